"""Portal settings (terms IV.1): operators hide or suspend sections and hide single items.

Every replica keeps the settings in memory and reloads them when any replica changes them
(NOTIFY on commit reaches every listener within milliseconds), so a change holds
everywhere within a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from ebok_shared.http.params import HIDDEN_ITEMS_HEADER
from ebok_shared.http.problems import Problem

from . import repository

SECTIONS = {
    "contracts": "Umowy",
    "readings": "Odczyty",
    "garden_meters": "Wodomierze ogrodowe",
    "invoices": "Faktury",
    "e_invoices": "E-faktury",
    "correspondence": "Korespondencja",
}
DEFAULT_MESSAGE = "Ta część e-BOK jest chwilowo niedostępna."


@dataclass
class PortalSettings:
    modes: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    hidden: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    async def load(cls, conn: asyncpg.Connection | asyncpg.Pool) -> PortalSettings:
        sections, items = await repository.portal_settings(conn)
        hidden: dict[str, set[str]] = {}
        for row in items:
            hidden.setdefault(row["section"], set()).add(row["item_id"])
        return cls({r["section"]: (r["mode"], r["message"]) for r in sections}, hidden)

    def mode(self, section: str | None) -> str:
        return "on" if section is None else self.modes.get(section, ("on", None))[0]

    def message(self, section: str | None) -> str:
        """What customers are told about a suspended section."""
        return self.modes.get(section or "", ("on", None))[1] or DEFAULT_MESSAGE

    def check(self, section: str | None, method: str) -> None:
        """Refuse a call to a section that is hidden, off, or read-only for a change."""
        mode = self.mode(section)
        if mode == "on":
            return
        assert section is not None
        message = self.message(section)
        if mode == "hidden":
            raise Problem(404, code="section-hidden")
        if mode == "off":
            raise Problem(503, message, code="section-suspended", section=section)
        if mode == "read_only" and method not in ("GET", "HEAD"):
            raise Problem(
                423,
                message + " Możesz przeglądać dane, ale nie możesz ich teraz zmieniać.",
                code="section-read-only",
                section=section,
            )

    def is_hidden(self, section: str, item_id: str) -> bool:
        return item_id in self.hidden.get(section, ())

    def hidden_header(
        self, section: str | None, list_key: str | None, client: str
    ) -> dict[str, str]:
        """The header that names the client's hidden items of a list to the service that owns
        the list, so its SQL leaves them out (and ``total`` and every page are right); empty
        for a list operators cannot hide items of. Only ids with the client's number in them:
        an invoice number begins with it (terms II.2) and a contract number carries it, so
        nothing of the client's is left out, and the header stays a few ids long however many
        items operators hide in all."""
        hidden = self.hidden.get(section or "", ()) if list_key else ()
        theirs = sorted(item for item in hidden if client in item)
        return {HIDDEN_ITEMS_HEADER: ",".join(theirs)} if theirs else {}

    def filter_items(
        self, section: str, items: list[dict[str, Any]], key: str
    ) -> list[dict[str, Any]]:
        hidden = self.hidden.get(section)
        if not hidden:
            return items
        return [item for item in items if str(item.get(key)) not in hidden]

    def visible_list(
        self,
        data: Any,
        *,
        section: str | None,
        list_key: str | None,
        sectioned: tuple[str, str, str] | None = None,
    ) -> Any:
        """A list answer (``{"items": [...], "total": …}``) without what customers may not
        see: items operators hid (by ``list_key``) and items that belong to a hidden section
        (``sectioned``: field, value, section — garden meters in the meters list). ``total``
        and ``pages`` no longer count what was taken out. Anything else is returned as is."""
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return data
        shown = items
        if list_key and section:
            shown = self.filter_items(section, shown, list_key)
        if sectioned is not None and self.mode(sectioned[2]) == "hidden":
            field_name, value = sectioned[0], sectioned[1]
            shown = [i for i in shown if not (isinstance(i, dict) and i.get(field_name) == value)]
        removed = len(items) - len(shown)
        if not removed:
            return data
        out = {**data, "items": shown}
        total = data.get("total")
        if isinstance(total, int):
            out["total"] = max(total - removed, 0)
            size = data.get("page_size")
            if isinstance(size, int) and size > 0 and "pages" in data:
                out["pages"] = (out["total"] + size - 1) // size
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "sections": [
                {
                    "section": s,
                    "name": name,
                    "mode": self.mode(s),
                    "message": self.modes.get(s, ("on", None))[1],
                }
                for s, name in SECTIONS.items()
            ],
            "hidden_items": [
                {"section": s, "item_id": i}
                for s, ids in sorted(self.hidden.items())
                for i in sorted(ids)
            ],
        }
