"""Every answer an end-to-end test gets, checked against the gateway's own OpenAPI document:
the status must be documented for the operation (or fall under ``default``), the content
type must be one the document gives for it, and a JSON body must match its schema. A
mismatch fails the test that made the call (the API client calls ``check`` on each reply)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

PREFIX = "/api/v1"
JSON_TYPES = ("application/json", "application/problem+json")


@dataclass(frozen=True)
class Answer:
    method: str
    path: str  # under /api/v1, as called (percent-encoded parts kept), maybe with a query
    status: int
    content_type: str
    body: bytes


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked = 0  # answers checked (a test can tell the checker ran)
        # Literal paths first: /me/meters must not match a template's {serial}.
        self._templates = sorted(
            (
                (re.compile("^" + re.sub(r"\\{(\w+)\\}", "[^/]+", re.escape(path)) + "$"), path)
                for path in document["paths"]
            ),
            key=lambda pair: pair[1].count("{"),
        )
        self._json = json.dumps(document)

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        bare = PREFIX + path.split("?", 1)[0]
        for pattern, template in self._templates:
            if pattern.match(bare):
                found = self.document["paths"][template].get(method.lower())
                if found is not None:
                    return dict(found)
        return None

    def check_form(self, method: str, path: str) -> None:
        """A multipart body is sent only where the document describes one."""
        operation = self.operation(method, path)
        assert operation is not None, f"{method} {path}: not in the document"
        content = operation.get("requestBody", {}).get("content", {})
        assert "multipart/form-data" in content, (
            f"{method} {path}: the document describes no multipart/form-data body"
        )

    def check(self, answer: Answer) -> None:
        """Raises AssertionError, naming the call, when the answer is not as documented."""
        self.checked += 1
        where = f"{answer.method} {answer.path} → {answer.status}"
        operation = self.operation(answer.method, answer.path)
        if operation is None:  # not a documented route: only a problem may come back
            assert answer.status >= 400, f"{where}: an undocumented route answered"
            documented = {"content": {"application/problem+json": {"schema": _problem_ref()}}}
        else:
            responses = operation["responses"]
            documented = responses.get(str(answer.status)) or responses.get("default")
            assert documented is not None, f"{where}: status not in the document"
        content = documented.get("content")
        if not content:
            assert not answer.body, f"{where}: a body where the document gives none"
            return
        assert answer.content_type in content, (
            f"{where}: {answer.content_type!r} is not one of {sorted(content)}"
        )
        if answer.content_type not in JSON_TYPES:
            return
        schema = content[answer.content_type]["schema"]
        try:
            self._validator(json.dumps(schema)).validate(json.loads(answer.body))
        except ValidationError as error:
            at = "/".join(str(p) for p in error.absolute_path) or "(body)"
            raise AssertionError(
                f"{where}: the answer does not match the document at {at}: {error.message}\n"
                f"{answer.body[:800]!r}"
            ) from None

    def _validator(self, schema_json: str) -> Draft202012Validator:
        return _validator(schema_json, self._json)


def _problem_ref() -> dict[str, str]:
    return {"$ref": "#/components/schemas/Problem"}


@cache
def _validator(schema_json: str, document_json: str) -> Draft202012Validator:
    """The schema with the document's components beside it (``#/components/…`` resolves)."""
    schema = {**json.loads(schema_json), "components": json.loads(document_json)["components"]}
    return Draft202012Validator(schema, format_checker=FormatChecker())
