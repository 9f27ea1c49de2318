"""GDPR: auth's part of a customer's data export, and the terms of deleting an account
(what goes now, what the utility must keep, until when and on what legal basis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from ebok_shared.clock import clock

from .accounts import retain_until
from .settings import AuthSettings


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _rows(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [{k: _iso(v) for k, v in r.items()} for r in rows]


async def export(pool: asyncpg.Pool, client: str) -> dict[str, Any]:
    """Everything auth holds about ``client`` (never hashes or secrets: they are not data
    about the person but the means to check them; their existence is stated)."""
    account = await pool.fetchrow(
        "SELECT client_number, email, status, created_at, activated_at,"
        " password_changed_at, blocked_reason, blocked_at, totp_secret IS NOT NULL AS totp_enabled"
        " FROM accounts WHERE client_number = $1",
        client,
    )
    return {
        "generated_at": clock.now().isoformat(),
        "account": {k: _iso(v) for k, v in account.items()} if account else None,
        "credentials": "Przechowujemy wyłącznie skrót hasła (argon2id) i — jeśli włączono — "
        "klucz TOTP; nie da się z nich odtworzyć hasła.",
        "regulations_acceptances": _rows(
            await pool.fetch(
                "SELECT version, accepted_at, ip, context FROM regulations_acceptances"
                " WHERE client_number = $1 ORDER BY id",
                client,
            )
        ),
        "sessions": _rows(
            await pool.fetch(
                "SELECT created_at, last_seen_at, expires_at, revoked_at, revoked_reason, ip"
                " FROM sessions WHERE kind = 'customer' AND subject = $1 ORDER BY created_at",
                client,
            )
        ),
        "security_events": _rows(
            await pool.fetch(
                "SELECT occurred_at, type, actor, ip, details FROM audit_log WHERE subject = $1"
                " ORDER BY id DESC LIMIT 1000",
                client,
            )
        ),
        "billing_projection": {
            "email_of_record": await pool.fetchval(
                "SELECT email FROM clients WHERE client_number = $1", client
            ),
            "contracts": _rows(
                await pool.fetch(
                    "SELECT contract_number, concluded_on, terminated_on FROM contracts"
                    " WHERE client_number = $1 ORDER BY contract_number",
                    client,
                )
            ),
            "invoice_numbers": [
                r["invoice_number"]
                for r in await pool.fetch(
                    "SELECT invoice_number FROM invoices WHERE client_number = $1"
                    " ORDER BY invoice_number",
                    client,
                )
            ],
        },
    }


def deletion_terms(settings: AuthSettings) -> dict[str, Any]:
    """Shown before the customer confirms (terms II.6), and again after."""
    audit_until = clock.today() + dt.timedelta(days=settings.audit_retention_days)
    return {
        "deleted_now": [
            "konto e-BOK i login (numer klienta jako login do e-BOK)",
            "adres e-mail podany w e-BOK",
            "skrót hasła, klucz logowania dwuskładnikowego i kody odzyskiwania",
            "wszystkie sesje i tokeny (wylogowanie na wszystkich urządzeniach)",
            "niewykorzystane linki (aktywacja, reset hasła, zmiana adresu e-mail)",
            "dane e-BOK w pozostałych modułach (odczyty zgłoszone przez e-BOK, korespondencja, "
            "powiadomienia) — usuwane lub odłączane od konta po otrzymaniu zdarzenia o usunięciu",
        ],
        "kept": [
            {
                "data": "dowody akceptacji regulaminu (wersja, data i godzina, adres IP)",
                "until": retain_until(settings.acceptance_retention_years).isoformat(),
                "legal_basis": "art. 6 ust. 1 lit. f RODO — ustalenie, dochodzenie i obrona "
                "roszczeń; okres przedawnienia z art. 118 Kodeksu cywilnego",
            },
            {
                "data": "dziennik zdarzeń bezpieczeństwa (logowania, blokady, usunięcie konta) "
                "oznaczony numerem klienta",
                "until": audit_until.isoformat(),
                "legal_basis": "art. 6 ust. 1 lit. f i art. 32 RODO — bezpieczeństwo systemu i "
                "rozliczalność",
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
