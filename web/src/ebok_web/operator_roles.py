"""The operators' roles (issue #13, least privilege) as the console shows them.

``customer_service`` (cases, garden-meter requests, readings to verify, accounts, e-mails),
``billing`` (back-office feeds, rate tables, tariffs), ``content`` (terms, portal switches),
``admin`` (operators, dead letters). Auth lists them when an operator signs in (and on each
refresh); web uses them only to show the menu and the pages an operator may use — the
services enforce them on every call whatever the menu shows. ``admin`` does not imply the
others.
"""

from __future__ import annotations

from dataclasses import dataclass

from .sessions import Session

CUSTOMER_SERVICE, BILLING, CONTENT, ADMIN = "customer_service", "billing", "content", "admin"
ROLE_NAMES = {
    CUSTOMER_SERVICE: "Obsługa klienta",
    BILLING: "Rozliczenia",
    CONTENT: "Treści i portal",
    ADMIN: "Administrator",
}


@dataclass(frozen=True)
class Area:
    href: str
    label: str
    role: str


# The console's menu, in the order of the work; each area needs its role.
AREAS = (
    Area("/operator/sprawy", "Sprawy", CUSTOMER_SERVICE),
    Area("/operator/wodomierze-ogrodowe", "Wodomierze ogrodowe", CUSTOMER_SERVICE),
    Area("/operator/odczyty", "Odczyty do weryfikacji", CUSTOMER_SERVICE),
    Area("/operator/konta", "Konta klientów", CUSTOMER_SERVICE),
    Area("/operator/regulamin", "Regulamin", CONTENT),
    Area("/operator/portal", "Sekcje portalu", CONTENT),
    Area("/operator/wiadomosci", "E-maile", CUSTOMER_SERVICE),
    Area("/operator/zasilenia", "Zasilenia", BILLING),
    Area("/operator/stawki", "Stawki i taryfy", BILLING),
    Area("/operator/platnosci", "Płatności do wyjaśnienia", BILLING),
    Area("/operator/pracownicy", "Pracownicy", ADMIN),
    Area("/operator/martwe-wiadomosci", "Martwe wiadomości", ADMIN),
)


def may(session: Session | None, role: str) -> bool:
    """Whether the operator's roles allow ``role``'s pages."""
    return session is not None and role in session.roles


def menu(session: Session | None) -> list[Area]:
    return [area for area in AREAS if may(session, area.role)]
