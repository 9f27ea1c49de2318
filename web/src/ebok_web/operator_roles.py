"""The operators' roles (issue #13, least privilege) as the console shows them.

``customer_service`` (cases, garden-meter requests, readings to verify, accounts, e-mails),
``billing`` (back-office feeds, rate tables, tariffs), ``content`` (terms, portal switches),
``admin`` (operators). They travel in the operator's access token (claim ``roles``); web reads
them only to show the menu and the pages an operator may use — the services enforce them on
every call whatever the menu shows.

Before the services knew these roles, every operator token carried only ``operator`` (and
``admin``) and every operator function was open to every operator: such a token (none of the
three work roles) is read as that old model — everything but the admin's pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from .sessions import Session

CUSTOMER_SERVICE, BILLING, CONTENT, ADMIN = "customer_service", "billing", "content", "admin"
ROLE_NAMES = {
    CUSTOMER_SERVICE: "Obsługa klienta",
    BILLING: "Rozliczenia",
    CONTENT: "Treści i portal",
    ADMIN: "Administrator",
}
WORK_ROLES = (CUSTOMER_SERVICE, BILLING, CONTENT)


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
    Area("/operator/pracownicy", "Pracownicy", ADMIN),
    Area("/operator/martwe-wiadomosci", "Martwe wiadomości", ADMIN),
)


def roles_in_token(token: str | None) -> list[str]:
    """The ``roles`` claim of an access token, read without checking its signature: the token
    came from the gateway a moment ago, and what web does with it is only to show a menu."""
    if not token or token.count(".") != 2:
        return []
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return []
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return sorted(str(r) for r in roles) if isinstance(roles, list) else []


def may(session: Session | None, role: str) -> bool:
    """Whether the operator's roles allow ``role``'s pages (see the module's note on tokens
    of the old model)."""
    if session is None:
        return False
    if role in session.roles:
        return True
    old_model = not any(r in session.roles for r in WORK_ROLES)
    return old_model and role != ADMIN and "operator" in session.roles


def menu(session: Session | None) -> list[Area]:
    return [area for area in AREAS if may(session, area.role)]
