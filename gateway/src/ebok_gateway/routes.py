"""The public API as data: every route, who may call it (and, for operators, the one role it
needs), which service owns it, which portal section (terms IV.1) it belongs to, and which
rate-limit rule guards it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ebok_shared.http.dead_letters import MESSAGE_ID
from ebok_shared.http.roles import ADMIN, BILLING, CONTENT, CUSTOMER_SERVICE

# "account": anyone signed in, customer or operator (their own password, logging out).
Access = Literal["public", "customer", "operator", "account"]
KINDS: dict[str, tuple[str, ...]] = {
    "customer": ("customer",),
    "operator": ("operator",),
    "account": ("customer", "operator"),
}

PREFIX = "/api/v1"
MiB = 1024 * 1024

# What each path parameter may hold: its value as decoded, matched whole. The gateway refuses
# anything else (400) before it forwards, and forwards each value percent-encoded as exactly
# one path segment, so no parameter can step out of its route (%2F, "..", %00). The owning
# services check the same values again; the OpenAPI document gives these patterns.
INVOICE_NUMBER = r"\d{10,20}"
# Contract numbers hold "/" as data (U/100002/2023): it travels encoded, as %2F, and the
# links billing returns are written so (/me/contracts/U%2F100002%2F2023/document).
CONTRACT_NUMBER = r"[A-Z0-9/-]{3,40}"
METER_SERIAL = r"[A-Z0-9-]{3,30}"
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
VERSION = r"\d{1,6}"
# An item operators hide (an invoice or a contract number, as the route naming it takes it).
ITEM_ID = r"[A-Z0-9/-]{1,64}"
SECTION = r"[a-z_]{1,32}"  # a portal section's key (the handler knows the sections)
# The operator routes' path parameters, by name (one meaning per name across the services).
OPERATOR_PARAMETERS = {
    "client_number": r"\d{6}",
    "login": r"[a-z][a-z0-9._-]{2,39}",
    "number": INVOICE_NUMBER,
    "serial": METER_SERIAL,
    "id": r"\d{1,18}",
    "message_id": MESSAGE_ID,
    **{name: UUID for name in ("batch_id", "case_id", "attachment_id", "reading_id")},
    **{name: UUID for name in ("request_id", "photo_id")},
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under /api/v1; the owning service serves the same path (see service_path)
    service: str  # "gateway": the gateway's own handler (not forwarded)
    access: Access
    summary: str
    role: str | None = None  # operator routes: the role the operator needs (ebok_shared roles)
    section: str | None = None
    rate_rule: str | None = None
    allow_restricted: tuple[str, ...] = ()
    item_key: str | None = None  # path parameter naming an item operators can hide
    list_key: str | None = None  # field of list items operators can hide
    # (field, value, section): list items of another section, hidden with it (garden meters)
    sectioned_items: tuple[str, str, str] | None = None
    max_body: int = MiB
    binary: bool = False  # answers a document (PDF) rather than JSON
    ok: int = 200  # the success status the owning service answers
    media_types: tuple[str, ...] = ("application/pdf",)  # what a binary route answers
    # The pattern of each path parameter ({name} in path): see INVOICE_NUMBER and the rest.
    params: Mapping[str, str] = field(default_factory=dict, hash=False)
    # A customer's GET answer kept per client with their dashboard parts (proxy.py,
    # view_cache.py): only for a JSON route without hidden items or path parameters.
    kept: bool = False

    def __post_init__(self) -> None:
        named = set(re.findall(r"{(\w+)}", self.path))
        if named != set(self.params):
            # Fail at import: a parameter without its own pattern could carry any path.
            raise ValueError(f"{self.method} {self.path}: patterns for {sorted(named)} needed")
        if self.kept and (
            self.method != "GET"
            or self.access != "customer"
            or named
            or self.list_key
            or self.sectioned_items
            or self.binary
        ):
            raise ValueError(f"{self.method} {self.path}: only a customer's plain GET is kept")

    def accepts(self, name: str, value: str) -> bool:
        """Does ``value`` (decoded) match the pattern of path parameter ``name``?"""
        return re.fullmatch(self.params[name], value) is not None

    @property
    def service_path(self) -> str:
        """The path (template) the owning service serves."""
        return self.to_service(self.path)

    def to_service(self, path: str) -> str:
        """``path`` (under /api/v1) as the owning service serves it: operator routes are
        published as ``/operator/<service>/…`` and served by ``<service>`` as ``/operator/…``."""
        prefix = f"/operator/{self.service}/"
        if self.path.startswith(prefix) and path.startswith(prefix):
            return "/operator/" + path.removeprefix(prefix)
        return path


PDF_OR_IMAGE = ("application/pdf", "image/jpeg", "image/png")
IMAGE = ("image/jpeg", "image/png")


def _op(
    method: str,
    service: str,
    tail: str,
    summary: str,
    role: str,
    *,
    ok: int = 200,
    max_body: int = MiB,
    media_types: tuple[str, ...] | None = None,
) -> Route:
    """An operator route of ``service``, published as ``/operator/<service><tail>``; with
    ``media_types`` it answers a document rather than JSON."""
    return Route(
        method,
        f"/operator/{service}{tail}",
        service,
        "operator",
        summary,
        role,
        ok=ok,
        max_body=max_body,
        binary=media_types is not None,
        media_types=media_types or PDF_OR_IMAGE,
        params={name: OPERATOR_PARAMETERS[name] for name in re.findall(r"{(\w+)}", tail)},
    )


FEED_MAX_BODY = 16 * MiB  # a back-office feed batch


# Garden meters are listed with the others but belong to their own section (terms IV.1).
GARDEN_METERS = ("kind", "garden", "garden_meters")

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
    Route(
        "GET",
        "/regulations/{version}",
        "auth",
        "public",
        "Regulamin w danej wersji",
        params={"version": VERSION},
    ),
    # The payment provider's (PayU's) signed notifications; billing verifies the signature.
    Route(
        "POST",
        "/payments/payu/notifications",
        "billing",
        "public",
        "Powiadomienia operatora płatności (PayU)",
        max_body=64 * 1024,
    ),
    Route(
        "GET",
        "/regulations/{version}/changes",
        "auth",
        "public",
        "Zmiany regulaminu względem poprzedniej wersji",
        params={"version": VERSION},
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
        params={"number": CONTRACT_NUMBER},
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
        params={"number": CONTRACT_NUMBER},
    ),
    Route(
        "GET",
        "/me/meters",
        "readings",
        "customer",
        "Wodomierze",
        section="readings",
        sectioned_items=GARDEN_METERS,
    ),
    Route(
        "GET",
        "/me/meters/{serial}/readings",
        "readings",
        "customer",
        "Odczyty wodomierza",
        section="readings",
        params={"serial": METER_SERIAL},
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
        params={"serial": METER_SERIAL},
    ),
    # Asked with every dashboard page: kept (readings' events and the customer's own readings
    # through the gateway drop it).
    Route(
        "GET",
        "/me/consumption",
        "readings",
        "customer",
        "Zużycie wody",
        section="readings",
        kept=True,
    ),
    Route(
        "GET",
        "/me/photos/{photo_id}",
        "readings",
        "customer",
        "Zdjęcie wysłane z odczytem lub zgłoszeniem",
        allow_restricted=GDPR,  # part of the export
        binary=True,
        media_types=("image/jpeg", "image/png"),
        params={"photo_id": UUID},
    ),
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
        params={"number": INVOICE_NUMBER},
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
        params={"number": INVOICE_NUMBER},
    ),
    Route(
        "GET", "/me/balance", "billing", "customer", "Stan konta z odsetkami", section="invoices"
    ),
    Route(
        "GET",
        "/me/balance/transfer",
        "billing",
        "customer",
        "Przelew salda na dziś z kodem QR",
        section="invoices",
    ),
    Route("GET", "/me/interest-notes", "billing", "customer", "Noty odsetkowe", section="invoices"),
    Route(
        "POST",
        "/me/payment-orders",
        "billing",
        "customer",
        "Płatność online: rozpoczęcie (saldo albo wybrane faktury i noty)",
        section="invoices",
        ok=201,
        max_body=16 * 1024,
    ),
    Route(
        "GET", "/me/payment-orders", "billing", "customer", "Płatności online", section="invoices"
    ),
    Route(
        "GET",
        "/me/payment-orders/{order_id}",
        "billing",
        "customer",
        "Płatność online: stan",
        section="invoices",
        params={"order_id": UUID},
    ),
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
        params={"case_id": UUID},
    ),
    Route(
        "POST",
        "/me/correspondence/{case_id}/attachments",
        "correspondence",
        "customer",
        "Dodanie plików do otwartej sprawy",
        section="correspondence",
        max_body=51 * MiB,
        ok=201,
        params={"case_id": UUID},
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
        params={"case_id": UUID, "attachment_id": UUID},
    ),
    # --- operators: customer service (customer_service) ---------------------------------
    _op("GET", "auth", "/accounts", "Wyszukiwanie kont", CUSTOMER_SERVICE),
    _op("GET", "auth", "/accounts/{client_number}", "Konto klienta", CUSTOMER_SERVICE),
    _op("POST", "auth", "/accounts/{client_number}/block", "Blokada konta", CUSTOMER_SERVICE),
    _op(
        "POST", "auth", "/accounts/{client_number}/unblock", "Odblokowanie konta", CUSTOMER_SERVICE
    ),
    _op(
        "POST",
        "auth",
        "/accounts/{client_number}/deletion",
        "Usunięcie konta na wniosek klienta",
        CUSTOMER_SERVICE,
    ),
    _op("GET", "auth", "/audit", "Dziennik zdarzeń (audyt)", CUSTOMER_SERVICE),
    _op(
        "GET",
        "auth",
        "/deletion-terms",
        "Co usunięcie konta usuwa, a co Spółka musi zachować",
        CUSTOMER_SERVICE,
    ),
    _op("GET", "correspondence", "/cases", "Kolejka spraw", CUSTOMER_SERVICE),
    _op(
        "GET",
        "correspondence",
        "/queue-counts",
        "Liczba spraw w kolejce (otwarte, pilne, nieprzydzielone, po terminie)",
        CUSTOMER_SERVICE,
    ),
    _op(
        "GET",
        "readings",
        "/queue-counts",
        "Liczba odczytów do weryfikacji i zgłoszeń wodomierzy ogrodowych",
        CUSTOMER_SERVICE,
    ),
    _op("GET", "correspondence", "/cases/{case_id}", "Sprawa", CUSTOMER_SERVICE),
    _op(
        "GET",
        "correspondence",
        "/cases/{case_id}/attachments/{attachment_id}",
        "Załącznik sprawy",
        CUSTOMER_SERVICE,
        media_types=PDF_OR_IMAGE,
    ),
    _op(
        "POST",
        "correspondence",
        "/cases/{case_id}/assignment",
        "Przejęcie sprawy",
        CUSTOMER_SERVICE,
    ),
    _op(
        "POST",
        "correspondence",
        "/cases/{case_id}/replies",
        "Odpowiedź na sprawę (JSON albo formularz z załącznikami)",
        CUSTOMER_SERVICE,
        ok=201,
        max_body=51 * MiB,
    ),
    _op(
        "PUT",
        "correspondence",
        "/cases/{case_id}/status",
        "Zmiana statusu sprawy",
        CUSTOMER_SERVICE,
    ),
    _op(
        "POST",
        "correspondence",
        "/cases/{case_id}/evidence-needed",
        "Prośba o uzupełnienie dowodów",
        CUSTOMER_SERVICE,
    ),
    _op(
        "POST", "correspondence", "/cases/{case_id}/closure", "Zamknięcie sprawy", CUSTOMER_SERVICE
    ),
    _op("GET", "readings", "/readings", "Odczyty do weryfikacji", CUSTOMER_SERVICE),
    _op(
        "POST",
        "readings",
        "/readings/{reading_id}/decision",
        "Decyzja o odczycie",
        CUSTOMER_SERVICE,
    ),
    _op(
        "GET",
        "readings",
        "/garden-meter-requests",
        "Zgłoszenia wodomierzy ogrodowych",
        CUSTOMER_SERVICE,
    ),
    _op(
        "GET",
        "readings",
        "/garden-meter-requests/{request_id}",
        "Zgłoszenie wodomierza ogrodowego",
        CUSTOMER_SERVICE,
    ),
    _op(
        "POST",
        "readings",
        "/garden-meter-requests/{request_id}/decision",
        "Decyzja o zgłoszeniu wodomierza ogrodowego",
        CUSTOMER_SERVICE,
    ),
    _op("GET", "readings", "/meters/{serial}", "Wodomierz z historią odczytów", CUSTOMER_SERVICE),
    _op(
        "GET",
        "readings",
        "/photos/{photo_id}",
        "Zdjęcie wodomierza",
        CUSTOMER_SERVICE,
        media_types=IMAGE,
    ),
    _op("GET", "notifier", "/deliveries", "Wysłane e-maile (dziennik doręczeń)", CUSTOMER_SERVICE),
    _op("GET", "notifier", "/deliveries/{id}", "Doręczenie e-maila", CUSTOMER_SERVICE),
    _op(
        "POST",
        "notifier",
        "/deliveries/{id}/resend",
        "Ponowne wysłanie e-maila",
        CUSTOMER_SERVICE,
        ok=202,
    ),
    # --- operators: billing (billing) ----------------------------------------------------
    _op(
        "POST",
        "billing",
        "/feed/batches",
        "Partia danych z systemu rozliczeń",
        BILLING,
        ok=201,
        max_body=FEED_MAX_BODY,
    ),
    _op("GET", "billing", "/feed/batches", "Historia partii danych", BILLING),
    _op("GET", "billing", "/feed/batches/{batch_id}", "Partia danych", BILLING),
    _op("GET", "billing", "/interest-rates", "Tabela stóp referencyjnych NBP", BILLING),
    _op("POST", "billing", "/interest-rates", "Nowa stopa referencyjna NBP", BILLING, ok=201),
    _op("GET", "billing", "/eur-rates", "Kursy EUR (NBP, tabela A)", BILLING),
    _op("POST", "billing", "/eur-rates", "Nowy kurs EUR", BILLING, ok=201),
    _op(
        "POST",
        "billing",
        "/invoices/{number}/interest-notes",
        "Nota odsetkowa na żądanie",
        BILLING,
        ok=201,
    ),
    _op("GET", "billing", "/tariffs", "Taryfy", BILLING),
    _op("PUT", "billing", "/tariffs", "Zmiana taryfy", BILLING),
    _op(
        "GET",
        "billing",
        "/payment-orders/unmatched",
        "Płatności online niezaksięgowane i wpłaty bez zlecenia",
        BILLING,
    ),
    _op("GET", "billing", "/tariffs/changes", "Historia zmian taryf (kto i kiedy)", BILLING),
    _op("GET", "readings", "/reading-windows", "Okna podawania odczytów", BILLING),
    _op("PUT", "readings", "/reading-windows", "Zmiana okien podawania odczytów", BILLING),
    _op(
        "POST",
        "readings",
        "/feed/readings",
        "Partia odczytów z systemu rozliczeń",
        BILLING,
        ok=201,
        max_body=FEED_MAX_BODY,
    ),
    _op("GET", "readings", "/feed/batches", "Historia partii odczytów i wodomierzy", BILLING),
    _op("GET", "readings", "/feed/batches/{batch_id}", "Partia odczytów lub wodomierzy", BILLING),
    _op(
        "POST",
        "readings",
        "/feed/meters",
        "Partia wodomierzy z systemu rozliczeń",
        BILLING,
        ok=201,
        max_body=FEED_MAX_BODY,
    ),
    # --- operators: content (content) ----------------------------------------------------
    _op("POST", "auth", "/regulations", "Publikacja nowej wersji regulaminu", CONTENT, ok=201),
    _op(
        "POST",
        "auth",
        "/regulations/preview",
        "Podgląd zmian w projekcie regulaminu (zmienione punkty obok siebie)",
        CONTENT,
    ),
    _op("GET", "notifier", "/campaigns", "Kampanie powiadomień o regulaminie", CONTENT),
    _op("GET", "notifier", "/campaigns/{id}", "Postęp kampanii", CONTENT),
    # --- operators: admin (admin) --------------------------------------------------------
    _op("GET", "auth", "/operators", "Pracownicy", ADMIN),
    _op("POST", "auth", "/operators", "Nowy pracownik", ADMIN, ok=201),
    _op("GET", "auth", "/operators/{login}", "Pracownik", ADMIN),
    _op("PUT", "auth", "/operators/{login}/roles", "Zmiana ról pracownika", ADMIN),
    _op("POST", "auth", "/operators/{login}/deactivation", "Dezaktywacja pracownika", ADMIN),
    _op("POST", "auth", "/operators/{login}/totp-reset", "Nowy klucz TOTP pracownika", ADMIN),
    # --- the gateway's own, for customers and everyone ------------------------------------
    Route("GET", "/me/dashboard", "gateway", "customer", "Pulpit klienta (widok zbiorczy)"),
    Route(
        "GET",
        "/me/export",
        "gateway",
        "customer",
        "Eksport moich danych (RODO)",
        allow_restricted=GDPR,
    ),
    Route(
        "GET",
        "/me/export/archive",
        "gateway",
        "customer",
        "Eksport moich danych z plikami: archiwum ZIP z manifestem (RODO)",
        allow_restricted=GDPR,
        binary=True,
        media_types=("application/zip",),
    ),
    Route("GET", "/openapi.json", "gateway", "public", "Dokument OpenAPI"),
    Route(
        "GET",
        "/portal/sections",
        "gateway",
        "public",
        "Stan sekcji portalu (włączona, tylko do odczytu, …)",
    ),
    # --- operators: admin, each service's dead-letter queue (ebok_shared.http.dead_letters) -
    *(
        route
        for service in ("auth", "billing", "readings", "correspondence", "notifier")
        for route in (
            _op("GET", service, "/dead-letters", "Kolejka odrzuconych komunikatów", ADMIN),
            _op(
                "GET",
                service,
                "/dead-letters/{message_id}",
                "Odrzucony komunikat",
                ADMIN,
            ),
            _op(
                "POST",
                service,
                "/dead-letters/{message_id}/redrive",
                "Ponowne przetworzenie komunikatu",
                ADMIN,
            ),
            _op(
                "POST",
                service,
                "/dead-letters/redrive",
                "Ponowne przetworzenie wszystkich odrzuconych komunikatów",
                ADMIN,
            ),
        )
    ),
    # --- operators: the gateway's own (portal settings, terms IV.1) -------------------------
    Route("GET", "/operator/portal-settings", "gateway", "operator", "Ustawienia portalu", CONTENT),
    Route(
        "GET",
        "/operator/portal-settings/history",
        "gateway",
        "operator",
        "Historia zmian ustawień portalu",
        CONTENT,
    ),
    Route(
        "PUT",
        "/operator/portal-settings/sections/{section}",
        "gateway",
        "operator",
        "Włączenie, zawieszenie lub ukrycie sekcji",
        CONTENT,
        params={"section": SECTION},
    ),
    Route(
        "GET",
        "/operator/portal-settings/hidden-items",
        "gateway",
        "operator",
        "Ukryte pojedyncze pozycje (faktury, umowy)",
        BILLING,
    ),
    Route(
        "PUT",
        "/operator/portal-settings/sections/{section}/items/{item_id}",
        "gateway",
        "operator",
        "Ukrycie pojedynczej pozycji (faktury, umowy)",
        BILLING,
        params={"section": SECTION, "item_id": ITEM_ID},
    ),
)


def role_for(method: str, path: str) -> str:
    """The role the operator route ``method path`` of the table needs (its one source)."""
    for route in ROUTES:
        if route.method == method and route.path == path and route.role is not None:
            return route.role
    raise LookupError(f"no operator route {method} {path} in the table")
