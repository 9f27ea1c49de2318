"""GDPR: auth's part of a customer's data export, the terms of deleting an account (what
goes now, what the utility must keep, until when and on what legal basis), and the deletion
on the customer's own request."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from ebok_shared.clock import clock

from ..domain import retain_until
from ..repository import accounts, audit, projection, regulations, sessions
from ..settings import AuthSettings
from . import Deps
from .accounts import erase, own_account, verify_current_password


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _rows(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [{k: _iso(v) for k, v in r.items()} for r in rows]


async def export(pool: asyncpg.Pool, client: str) -> dict[str, Any]:
    """GDPR art. 15/20: everything auth holds about ``client`` (never hashes or secrets: they
    are not data about the person but the means to check them; their existence is stated)."""
    account = await accounts.export(pool, client)
    return {
        "generated_at": clock.now().isoformat(),
        "account": {k: _iso(v) for k, v in account.items()} if account else None,
        "credentials": "Przechowujemy wyłącznie skrót hasła (argon2id) i — jeśli włączono — "
        "klucz TOTP; nie da się z nich odtworzyć hasła.",
        "regulations_acceptances": _rows(await regulations.export_acceptances(pool, client)),
        "sessions": _rows(await sessions.export(pool, client)),
        "security_events": _rows(await audit.export(pool, client)),
        "billing_projection": {
            "email_of_record": await projection.email_of_record(pool, client),
            "contracts": _rows(await projection.contracts_of(pool, client)),
            "invoice_numbers": await projection.invoice_numbers(pool, client),
        },
    }


def deletion_terms(settings: AuthSettings) -> dict[str, Any]:
    """Shown before the customer confirms (terms II.6), and again after."""
    today = clock.today()
    audit_until = today + dt.timedelta(days=settings.audit_retention_days)
    # Art. 70 Ordynacji podatkowej: 5 years from the end of the year the tax fell due; an
    # invoice issued this year is due next year at the latest.
    tax_until = dt.date(today.year + 6, 12, 31)
    return {
        "deleted_now": [
            "konto e-BOK i login (numer klienta jako login do e-BOK)",
            "adres e-mail podany w e-BOK",
            "skrót hasła, klucz logowania dwuskładnikowego i kody odzyskiwania",
            "wszystkie sesje i tokeny (wylogowanie na wszystkich urządzeniach)",
            "niewykorzystane linki (aktywacja, reset hasła, zmiana adresu e-mail)",
            "dane e-BOK w pozostałych modułach (odczyty zgłoszone przez e-BOK, korespondencja, "
            "powiadomienia) — usuwane lub odłączane od konta po otrzymaniu zdarzenia o usunięciu",
            "adres e-mail w dzienniku wysłanych wiadomości (zostaje tylko informacja, jaką "
            "wiadomość i kiedy wysłano; potwierdzenie usunięcia konta — zaraz po wysłaniu)",
            "adres do e-faktur zgłoszony w e-BOK, ale niepotwierdzony",
        ],
        "kept": [
            {
                "data": "dowody akceptacji regulaminu (wersja, data i godzina, adres IP)",
                "until": retain_until(today, settings.acceptance_retention_years).isoformat(),
                "legal_basis": "art. 6 ust. 1 lit. f RODO — ustalenie, dochodzenie i obrona "
                "roszczeń; okres przedawnienia z art. 118 Kodeksu cywilnego",
            },
            {
                "data": "dziennik zdarzeń bezpieczeństwa (logowania, blokady, usunięcie konta) "
                "— po usunięciu konta oznaczony wyłącznie pseudonimem: powiązanie pseudonimu "
                "z numerem klienta usuwamy od razu",
                "until": audit_until.isoformat(),
                "legal_basis": "art. 6 ust. 1 lit. f i art. 32 RODO — bezpieczeństwo systemu i "
                "rozliczalność",
            },
            {
                "data": "potwierdzony adres do e-faktur, zgoda na e-fakturę i jej historia "
                "(poza e-BOK, w systemie rozliczeń Spółki): na ten adres wysłano faktury",
                "until": tax_until.isoformat(),
                "legal_basis": "art. 6 ust. 1 lit. c RODO; art. 106n ust. 1 i art. 112 ustawy "
                "o podatku od towarów i usług (zgoda na faktury elektroniczne, przechowywanie "
                "faktur do upływu terminu przedawnienia zobowiązania podatkowego)",
            },
            {
                "data": "umowy, faktury i rozliczenia (poza e-BOK, w systemie rozliczeń Spółki)",
                "until": "5 lat od końca roku kalendarzowego, w którym upłynął termin płatności "
                "podatku",
                "legal_basis": "art. 6 ust. 1 lit. b i c RODO; art. 86 Ordynacji podatkowej, "
                "art. 74 ustawy o rachunkowości",
            },
        ],
        "note": "Po usunięciu konta można ponownie zarejestrować się w e-BOK tym samym numerem "
        "klienta.",
    }


async def delete_own_account(
    deps: Deps, client: str, current_password: str, ip: str
) -> dict[str, Any]:
    """Terms II.6 on the customer's own request; the answer says what was kept and why."""
    row = await own_account(deps.pool, client)
    await verify_current_password(
        deps, "customer", client, row["password_hash"], current_password, ip
    )
    terms = deletion_terms(deps.settings)
    async with deps.pool.acquire() as conn, conn.transaction():
        await erase(
            conn,
            client,
            by=f"customer:{client}",
            retention_years=deps.settings.acceptance_retention_years,
            ip=ip,
            reason="customer-request",
        )
    return terms
