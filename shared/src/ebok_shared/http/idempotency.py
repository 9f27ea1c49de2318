"""``Idempotency-Key`` for POST requests: a retried request gets the first answer, and the
handler does not run again.

The key is claimed (a row with no status) before the handler runs and the answer stored
after. A concurrent duplicate gets 409 while the first is running; the same key with a
different body gets 422. A 5xx answer releases the key so the client may retry. If the
process died while a request was in progress, the claim expires after ``lease`` and the
request may run again: handlers whose effect must never repeat also keep the key with
their own row (a unique constraint), which this cannot replace.
"""

from __future__ import annotations

import hashlib
import json

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler

from ..refusals import Refusal
from .problems import Problem, render

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
LEASE_SECONDS = 60
_KEPT_HEADERS = ("Content-Type", "Location")


class KeyReused(Refusal):
    """422: the key came before with a request that meant something else."""

    def __init__(self) -> None:
        super().__init__(
            422,
            "idempotency-key-reused",
            f"Klucz {HEADER} został już użyty z inną treścią żądania.",
            field=HEADER,
            reason="klucz użyty z inną treścią",
        )


def key_of(request: web.Request) -> str | None:
    """The request's Idempotency-Key, if it sent one; 400 if it is not a usable key. (A
    handler that keeps its keys itself, with its own rows, reads them with this too.)"""
    key = request.headers.get(HEADER)
    if key is not None and (not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable()):
        raise Problem(
            400,
            f"Nagłówek {HEADER} musi mieć od 1 do {MAX_KEY_LENGTH} znaków.",
            code="bad-idempotency-key",
            errors=[{"field": HEADER, "reason": "nieprawidłowy klucz"}],
        )
    return key


async def prune(pool: asyncpg.Pool, days: int = 2) -> None:
    """Forget stored answers long after any retry could come."""
    await pool.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(days => $1)", days
    )


def applies(request: web.Request) -> bool:
    """Whether ``handle`` answers ``request`` from the stored keys: a POST with the header.
    Any other request goes straight to its handler."""
    return request.method == "POST" and HEADER in request.headers


async def handle(
    request: web.Request, handler: Handler, pool: asyncpg.Pool, principal_subject: str
) -> web.StreamResponse:
    if not applies(request):
        return await handler(request)
    key = key_of(request)
    assert key is not None
    body = await request.read()
    request_hash = hashlib.sha256(
        request.method.encode() + request.path.encode() + body
    ).hexdigest()
    scope = f"{principal_subject}:{request.method}:{request.path}"
    claimed = await pool.fetchval(
        """INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)
           ON CONFLICT (scope, key) DO UPDATE SET created_at = now()
             WHERE idempotency_keys.status IS NULL
               AND idempotency_keys.request_hash = EXCLUDED.request_hash
               AND idempotency_keys.created_at < now() - make_interval(secs => $4)
           RETURNING true""",
        scope,
        key,
        request_hash,
        LEASE_SECONDS,
    )
    if not claimed:
        row = await pool.fetchrow(
            "SELECT request_hash, status, headers, body FROM idempotency_keys"
            " WHERE scope = $1 AND key = $2",
            scope,
            key,
        )
        if row is None:  # released by a failed first attempt a moment ago
            raise Problem(
                409,
                "Poprzednie żądanie z tym kluczem właśnie się nie powiodło; ponów je.",
                code="idempotency-retry",
                headers={"Retry-After": "1"},
            )
        if row["request_hash"] != request_hash:
            raise KeyReused
        if row["status"] is None:
            raise Problem(
                409,
                "Żądanie z tym kluczem jest jeszcze przetwarzane.",
                code="idempotency-in-progress",
                headers={"Retry-After": "1"},
            )
        headers = dict(row["headers"] or {})
        headers["Idempotent-Replayed"] = "true"
        return web.Response(status=row["status"], body=row["body"], headers=headers)

    try:
        response = await render(request, handler)
    except web.HTTPException as exc:  # a raised redirect (render answers 4xx/5xx itself)
        await _store(pool, scope, key, exc)
        raise
    except BaseException:  # cancelled, or anything else escaping: let the client retry
        await _release(pool, scope, key)
        raise
    if response.status >= 500 or not isinstance(response, web.Response):
        await _release(pool, scope, key)
        return response
    await _store(pool, scope, key, response)
    return response


async def _release(pool: asyncpg.Pool, scope: str, key: str) -> None:
    await pool.execute("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key)


async def _store(pool: asyncpg.Pool, scope: str, key: str, response: web.Response) -> None:
    kept = {h: response.headers[h] for h in _KEPT_HEADERS if h in response.headers}
    await pool.execute(
        "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5"
        " WHERE scope = $1 AND key = $2",
        scope,
        key,
        response.status,
        json.loads(json.dumps(kept)),
        response.body or b"",
    )
