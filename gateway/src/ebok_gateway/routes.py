"""The public API as data: every route, who may call it, which service owns it, which portal
section (terms IV.1) it belongs to, and which rate-limit rule guards it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# "account": anyone signed in, customer or operator (their own password, logging out).
Access = Literal["public", "customer", "operator", "account"]
KINDS: dict[str, tuple[str, ...]] = {
    "customer": ("customer",),
    "operator": ("operator",),
    "account": ("customer", "operator"),
}

PREFIX = "/api/v1"
MiB = 1024 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under /api/v1; the owning service serves the same path
    service: str
    access: Access
    summary: str
    section: str | None = None
    rate_rule: str | None = None
    allow_restricted: tuple[str, ...] = ()
    item_key: str | None = None  # path parameter naming an item operators can hide
    list_key: str | None = None  # field of list items operators can hide
    max_body: int = MiB
    binary: bool = False  # answers a document (PDF) rather than JSON
    ok: int = 200  # the success status the owning service answers
    media_types: tuple[str, ...] = ("application/pdf",)  # what a binary route answers

    @property
    def service_path(self) -> str:
        """The path the owning service serves: the same, but for the operator routes of a
        service (``/operator/<service>/…`` here, ``/operator/…`` in the service)."""
        prefix = f"/operator/{self.service}/"
        return (
            "/operator/" + self.path.removeprefix(prefix)
            if self.path.startswith(prefix)
            else self.path
        )


PDF_OR_IMAGE = ("application/pdf", "image/jpeg", "image/png")


BOTH = ("password_change", "regulations")
GDPR = ("regulations",)  # what the GDPR routes allow (export, erasure): any accepted terms

ROUTES: tuple[Route, ...] = (
    # --- without a token -------------------------------------------------------------
    Route("GET", "/regulations/current", "auth", "public", "Regulamin obowiązujący"),
    Route(
        "POST",
        "/registrations",
        "auth",
        "public",
        "Rejestracja konta",
        rate_rule="registration",
        ok=202,
    ),
    Route("POST", "/activations", "auth", "public", "Aktywacja konta", rate_rule="activation"),
    Route("POST", "/sessions", "auth", "public", "Logowanie", rate_rule="login", ok=201),
    Route("POST", "/sessions/refresh", "auth", "public", "Odświeżenie sesji", rate_rule="login"),
    Route(
        "POST",
        "/operator/sessions",
        "auth",
        "public",
        "Logowanie pracownika (z kodem TOTP)",
        rate_rule="login",
        ok=201,
    ),
    Route(
        "POST",
        "/password-resets",
        "auth",
        "public",
        "Reset hasła",
        rate_rule="password_reset",
        ok=202,
    ),
    Route(
        "POST",
        "/password-resets/confirm",
        "auth",
        "public",
        "Ustawienie nowego hasła",
        rate_rule="password_reset",
    ),
    Route("GET", "/regulations/{version}", "auth", "public", "Regulamin w danej wersji"),
    Route(
        "GET",
        "/regulations/{version}/changes",
        "auth",
        "public",
        "Zmiany regulaminu względem poprzedniej wersji",
    ),
    Route(
        "POST",
        "/email-changes/confirm",
        "auth",
        "public",
        "Potwierdzenie nowego adresu e-mail",
        rate_rule="activation",
    ),
    Route(
        "POST",
        "/e-invoice/confirmations",
        "billing",
        "public",
        "Potwierdzenie adresu dla e-faktur",
        rate_rule="activation",
    ),
    # --- customer: account ---------------------------------------------------------------
    Route(
        "DELETE",
        "/sessions/current",
        "auth",
        "account",
        "Wylogowanie",
        allow_restricted=BOTH,
        ok=204,
    ),
    Route("GET", "/me", "auth", "customer", "Moje konto", allow_restricted=BOTH),
    Route(
        "PUT",
        "/me/password",
        "auth",
        "account",
        "Zmiana hasła",
        # Both: a first login after new terms came into force carries both restrictions,
        # and the password comes first (then the terms can be accepted).
        allow_restricted=BOTH,
    ),
    Route(
        "POST",
        "/me/regulations/acceptances",
        "auth",
        "customer",
        "Akceptacja regulaminu",
        allow_restricted=("regulations",),
        ok=201,
    ),
    Route("POST", "/me/email-change", "auth", "customer", "Zmiana adresu e-mail", ok=202),
    # GDPR rights (export, erasure and what it keeps) do not depend on accepting new terms.
    Route("DELETE", "/me", "auth", "customer", "Usunięcie konta", allow_restricted=GDPR),
    Route("POST", "/me/totp", "auth", "customer", "Logowanie dwuetapowe: rozpoczęcie", ok=201),
    Route("POST", "/me/totp/activation", "auth", "customer", "Logowanie dwuetapowe: włączenie"),
    Route(
        "POST", "/me/totp/removal", "auth", "customer", "Logowanie dwuetapowe: wyłączenie", ok=204
    ),
    Route(
        "GET",
        "/me/deletion",
        "auth",
        "customer",
        "Co zostanie usunięte, a co Spółka musi zachować",
        allow_restricted=GDPR,
    ),
    # --- customer: contracts, meters, readings -----------------------------------------
    Route(
        "GET",
        "/me/contracts",
        "billing",
        "customer",
        "Umowy",
        section="contracts",
        list_key="contract_number",
    ),
    Route(
        "GET",
        "/me/contracts/{number}",
        "billing",
        "customer",
        "Umowa",
        section="contracts",
        item_key="number",
    ),
    Route(
        "GET",
        "/me/contracts/{number}/document",
        "billing",
        "customer",
        "Treść umowy (PDF)",
        section="contracts",
        item_key="number",
        binary=True,
    ),
    Route("GET", "/me/meters", "readings", "customer", "Wodomierze", section="readings"),
    Route(
        "GET",
        "/me/meters/{serial}/readings",
        "readings",
        "customer",
        "Odczyty wodomierza",
        section="readings",
    ),
    Route(
        "POST",
        "/me/meters/{serial}/readings",
        "readings",
        "customer",
        "Podanie odczytu",
        section="readings",
        max_body=12 * MiB,  # a photo of the meter may come with it
        ok=201,
    ),
    Route("GET", "/me/consumption", "readings", "customer", "Zużycie wody", section="readings"),
    Route(
        "GET",
        "/me/garden-meter-requests",
        "readings",
        "customer",
        "Zgłoszenia wodomierzy ogrodowych",
        section="garden_meters",
    ),
    Route(
        "POST",
        "/me/garden-meter-requests",
        "readings",
        "customer",
        "Zgłoszenie wodomierza ogrodowego",
        section="garden_meters",
        max_body=12 * MiB,
        ok=201,
    ),
    # --- customer: invoices and money ----------------------------------------------------
    Route(
        "GET",
        "/me/invoices",
        "billing",
        "customer",
        "Faktury",
        section="invoices",
        list_key="invoice_number",  # billing's field in each item of the list
    ),
    Route(
        "GET",
        "/me/invoices/{number}",
        "billing",
        "customer",
        "Faktura",
        section="invoices",
        item_key="number",
    ),
    Route(
        "GET",
        "/me/invoices/{number}/pdf",
        "billing",
        "customer",
        "Odpis faktury (PDF)",
        section="invoices",
        item_key="number",
        binary=True,
    ),
    Route(
        "GET", "/me/balance", "billing", "customer", "Stan konta z odsetkami", section="invoices"
    ),
    Route("GET", "/me/interest-notes", "billing", "customer", "Noty odsetkowe", section="invoices"),
    Route("GET", "/me/e-invoice", "billing", "customer", "E-faktura: status", section="e_invoices"),
    Route(
        "PUT",
        "/me/e-invoice",
        "billing",
        "customer",
        "E-faktura: akceptacja lub zmiana adresu",
        section="e_invoices",
        ok=202,
    ),
    Route(
        "DELETE",
        "/me/e-invoice",
        "billing",
        "customer",
        "E-faktura: wycofanie akceptacji",
        section="e_invoices",
    ),
    # --- customer: correspondence --------------------------------------------------------
    Route(
        "GET",
        "/me/correspondence",
        "correspondence",
        "customer",
        "Historia korespondencji",
        section="correspondence",
    ),
    Route(
        "POST",
        "/me/correspondence",
        "correspondence",
        "customer",
        "Wysłanie pisma",
        section="correspondence",
        max_body=51 * MiB,
        ok=201,
    ),
    Route(
        "GET",
        "/me/correspondence/{case_id}",
        "correspondence",
        "customer",
        "Sprawa",
        section="correspondence",
    ),
    Route(
        "GET",
        "/me/correspondence/{case_id}/attachments/{attachment_id}",
        "correspondence",
        "customer",
        "Załącznik",
        section="correspondence",
        binary=True,
        media_types=PDF_OR_IMAGE,
    ),
)


# --- the gateway's own routes (http_customer.py, http_operator.py, http_public.py) ------------

GATEWAY_ROUTES: tuple[Route, ...] = (
    Route("GET", "/me/dashboard", "gateway", "customer", "Pulpit klienta (widok zbiorczy)"),
    Route(
        "GET",
        "/me/export",
        "gateway",
        "customer",
        "Eksport moich danych (RODO)",
        allow_restricted=GDPR,
    ),
    Route("GET", "/openapi.json", "gateway", "public", "Dokument OpenAPI"),
    Route(
        "GET",
        "/portal/sections",
        "gateway",
        "public",
        "Stan sekcji portalu (włączona, tylko do odczytu, …)",
    ),
    Route("GET", "/operator/portal-settings", "gateway", "operator", "Ustawienia portalu"),
    Route(
        "GET",
        "/operator/portal-settings/history",
        "gateway",
        "operator",
        "Historia zmian ustawień portalu",
    ),
    Route(
        "PUT",
        "/operator/portal-settings/sections/{section}",
        "gateway",
        "operator",
        "Ukrycie lub zawieszenie sekcji",
    ),
    Route(
        "PUT",
        "/operator/portal-settings/sections/{section}/items/{item_id}",
        "gateway",
        "operator",
        "Ukrycie pojedynczej pozycji",
    ),
)


def _op(method: str, path: str, service: str, summary: str, **kw: Any) -> Route:
    return Route(method, f"/operator/{service}{path}", service, "operator", summary, **kw)


# --- operator functions of the services -------------------------------------------------------
# The gateway passes /operator/<service>/… on to the service's /operator/… (one catch-all
# route, http_operator.operator_proxy); listed here for the API document (every one of them,
# tests/gateway/test_openapi_document.py compares with the services' own route tables).
OPERATOR_ROUTES: tuple[Route, ...] = (
    # auth: accounts, audit, operators, regulations
    _op("GET", "/accounts", "auth", "Wyszukiwanie kont klientów"),
    _op("GET", "/accounts/{client_number}", "auth", "Konto klienta"),
    _op("POST", "/accounts/{client_number}/block", "auth", "Blokada konta (z powodem)"),
    _op("POST", "/accounts/{client_number}/unblock", "auth", "Odblokowanie konta (z powodem)"),
    _op(
        "POST",
        "/accounts/{client_number}/deletion",
        "auth",
        "Usunięcie konta na żądanie klienta",
    ),
    _op("GET", "/audit", "auth", "Dziennik zdarzeń bezpieczeństwa"),
    _op("GET", "/operators", "auth", "Pracownicy"),
    _op("POST", "/operators", "auth", "Nowy pracownik", ok=201),
    _op("POST", "/regulations", "auth", "Publikacja nowej wersji regulaminu", ok=201),
    # billing: back-office feed, rates, interest notes, tariffs
    _op("POST", "/feed/batches", "billing", "Partia danych z systemu rozliczeń", ok=201),
    _op("GET", "/feed/batches", "billing", "Partie danych z systemu rozliczeń"),
    _op("GET", "/feed/batches/{batch_id}", "billing", "Partia danych z systemu rozliczeń"),
    _op("GET", "/interest-rates", "billing", "Stopy referencyjne NBP"),
    _op("POST", "/interest-rates", "billing", "Nowa stopa referencyjna NBP", ok=201),
    _op("GET", "/eur-rates", "billing", "Kursy EUR NBP (rekompensata)"),
    _op("POST", "/eur-rates", "billing", "Nowy kurs EUR NBP", ok=201),
    _op(
        "POST",
        "/invoices/{number}/interest-notes",
        "billing",
        "Nota odsetkowa na żądanie",
        ok=201,
    ),
    _op("GET", "/tariffs", "billing", "Taryfy"),
    _op("PUT", "/tariffs", "billing", "Ustalenie taryfy"),
    # readings: verification queues, meters, photos, reading windows, feeds
    _op("GET", "/readings", "readings", "Odczyty do weryfikacji"),
    _op("POST", "/readings/{reading_id}/decision", "readings", "Decyzja w sprawie odczytu"),
    _op("GET", "/garden-meter-requests", "readings", "Zgłoszenia wodomierzy ogrodowych"),
    _op(
        "GET",
        "/garden-meter-requests/{request_id}",
        "readings",
        "Zgłoszenie wodomierza ogrodowego",
    ),
    _op(
        "POST",
        "/garden-meter-requests/{request_id}/decision",
        "readings",
        "Decyzja w sprawie zgłoszenia wodomierza ogrodowego",
    ),
    _op("GET", "/meters/{serial}", "readings", "Historia wodomierza"),
    _op(
        "GET",
        "/photos/{photo_id}",
        "readings",
        "Zdjęcie wodomierza",
        binary=True,
        media_types=("image/jpeg", "image/png"),
    ),
    _op("GET", "/reading-windows", "readings", "Okna odczytów"),
    _op("PUT", "/reading-windows", "readings", "Ustalenie okien odczytów"),
    _op("POST", "/feed/readings", "readings", "Partia odczytów z systemu rozliczeń", ok=201),
    _op("POST", "/feed/meters", "readings", "Partia wodomierzy z systemu rozliczeń", ok=201),
    # correspondence: the queue and actions on a case
    _op("GET", "/cases", "correspondence", "Kolejka spraw"),
    _op("GET", "/cases/{case_id}", "correspondence", "Sprawa z historią"),
    _op(
        "GET",
        "/cases/{case_id}/attachments/{attachment_id}",
        "correspondence",
        "Załącznik sprawy",
        binary=True,
        media_types=PDF_OR_IMAGE,
    ),
    _op("POST", "/cases/{case_id}/assignment", "correspondence", "Przejęcie sprawy"),
    _op("POST", "/cases/{case_id}/replies", "correspondence", "Odpowiedź", ok=201),
    _op("PUT", "/cases/{case_id}/status", "correspondence", "Zmiana stanu sprawy"),
    _op(
        "POST",
        "/cases/{case_id}/evidence-needed",
        "correspondence",
        "Potrzebne dowody (termin wydłużony)",
    ),
    _op("POST", "/cases/{case_id}/closure", "correspondence", "Zamknięcie sprawy"),
    # notifier: the delivery log and campaigns
    _op("GET", "/deliveries", "notifier", "Dziennik wysłanych wiadomości"),
    _op("GET", "/deliveries/{id}", "notifier", "Wiadomość"),
    _op("POST", "/deliveries/{id}/resend", "notifier", "Ponowne wysłanie wiadomości", ok=202),
    _op("GET", "/campaigns", "notifier", "Kampanie (np. nowy regulamin)"),
    _op("GET", "/campaigns/{id}", "notifier", "Postęp kampanii"),
)
