"""Forms: what the customer entered and what was wrong with it (the GOV.UK pattern).

A refusal from the gateway (problem+json with ``errors: [{field, reason}]``) becomes an error
summary at the top of the page, each entry linked to its field, and the message at the field
itself. Entered values are kept and shown again — never passwords or codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# Fields whose values are never sent back to the browser.
SECRET_FIELDS = frozenset(
    {"password", "current_password", "new_password", "new_password_repeat", "totp_code", "code"}
)


@dataclass
class Form:
    """Values as entered (strings) and the errors found, by field name."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    detail: str | None = None  # a refusal that concerns no single field

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.detail)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def summary(self) -> list[tuple[str, str]]:
        """(field id, message) in the order the fields were given."""
        return list(self.errors.items())

    def kept(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if k not in SECRET_FIELDS}

    def take_problem(
        self,
        problem: Mapping[str, Any],
        fields: Mapping[str, str] | None = None,
        known: Iterable[str] = (),
    ) -> None:
        """A problem document's field errors, mapped from the API's field names to the
        form's (``fields``: API name → form name); errors about fields the form does not
        have, and a problem without field errors, become the summary's general message."""
        fields = fields or {}
        known_names = set(known) | set(fields.values())
        general: list[str] = []
        for item in problem.get("errors") or []:
            api_name = str(item.get("field", ""))
            name = fields.get(api_name, api_name.split(".")[0].split("[")[0])
            reason = str(item.get("reason", "")).strip()
            message = reason[:1].upper() + reason[1:] if reason else "Nieprawidłowa wartość."
            if name in known_names or (not known_names and name):
                self.error(name, message)
            else:
                general.append(message)
        if not self.errors or general:
            self.detail = " ".join(general) or str(
                problem.get("detail") or "Nie udało się. Spróbuj ponownie."
            )


async def read_form(request: web.Request) -> Form:
    """The submitted fields (files are read separately with ``request.post()``)."""
    data = await request.post()
    values = {k: v.strip() for k, v in data.items() if isinstance(v, str) and k != "csrf"}
    return Form(values=values)


def require(form: Form, *names: str, message: str = "To pole jest wymagane.") -> None:
    for name in names:
        if not form.value(name):
            form.error(name, message)
