"""The public API as data: every route, who may call it, which service owns it, which portal
section (terms IV.1) it belongs to, and which rate-limit rule guards it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
