"""Path and query parameters; each refusal is a Polish problem naming the parameter."""

from __future__ import annotations

import uuid

from aiohttp import web
from ebok_shared.http.params import bad, page
from ebok_shared.http.params import query_choice as choice
from ebok_shared.http.problems import Problem

__all__ = ["bad", "choice", "page"]


def path_id(request: web.Request, name: str) -> uuid.UUID:
    """A case or attachment id from the path. Anything that is not one is simply not found
    (404), the same answer as an id of someone else's case."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise Problem(404, "Nie znaleziono takiej sprawy lub załącznika.") from None
