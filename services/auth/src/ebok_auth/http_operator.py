"""Operator routes (terms I.4, II.6–7, IV.1–3): login with TOTP, account search, block and
unblock with a reason, deletion on the customer's request, the audit log, operators
(admin), new regulations versions (admin)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from ebok_shared.http.middleware import public, secret_answer
from ebok_shared.http.problems import Problem
from ebok_shared.http.tokens import Principal
from ebok_shared.http.validation import read_json
from ebok_shared.service import POOL

from . import accounts, audit, login, operators, regulations, schemas
from .domain import CLIENT_NUMBER_RE
from .resources import AUTH_SETTINGS, HASHER
from .webutil import client_ip, json, live_principal

routes = web.RouteTableDef()

MAX_PAGE = 100
# The last login is the audit log's (not a column kept by hand on every login).
_LAST_LOGIN = (
    "(SELECT max(occurred_at) FROM audit_log WHERE subject = a.client_number"
    " AND type = 'login.succeeded') AS last_login_at"
)


async def _operator(request: web.Request, role: str = "operator") -> Principal:
    return await live_principal(request, "operator", role=role)


def _client(request: web.Request) -> str:
    number = request.match_info["client_number"]
    if not CLIENT_NUMBER_RE.match(number):
        raise Problem(404, "Nie ma takiego konta.")
    return number


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise Problem(
            422,
            f"Parametr {name} musi być liczbą od {lo} do {hi}.",
            code="validation",
            errors=[{"field": name, "reason": f"liczba od {lo} do {hi}"}],
        )
    return int(raw)


def _time_param(request: web.Request, name: str) -> dt.datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Problem(
            422,
            f"Parametr {name}: data i czas ISO 8601 ze strefą.",
            code="validation",
            errors=[{"field": name, "reason": "nieprawidłowy format (ISO 8601)"}],
        )
    return value


def _account_view(row: Any) -> dict[str, Any]:
    return {
        "client_number": row["client_number"],
        "email": row["email"],
        "status": row["status"],
        "created_at": row["created_at"].isoformat(),
        "activated_at": row["activated_at"].isoformat() if row["activated_at"] else None,
        "last_login_at": row["last_login_at"].isoformat() if row["last_login_at"] else None,
        "blocked_reason": row["blocked_reason"],
        "blocked_by": row["blocked_by"],
        "blocked_at": row["blocked_at"].isoformat() if row["blocked_at"] else None,
        "totp_enabled": row["totp_secret"] is not None,
    }


@routes.post("/operator/sessions")
@public
@secret_answer
async def operator_login(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.OPERATOR_LOGIN_BODY)
    issued = await login.authenticate(
        request,
        login.Attempt(
            "operator", body["login"], body["password"], body["totp_code"], client_ip(request)
        ),
    )
    return json(issued.to_dict(), status=201)


@routes.get("/operator/accounts")
async def search_accounts(request: web.Request) -> web.Response:
    """By client number prefix or e-mail fragment, and status; paged (at most 100)."""
    await _operator(request)
    q = request.query.get("q", "").strip()[:100]
    status = request.query.get("status")
    if status not in (None, "pending", "active", "blocked"):
        raise Problem(
            422,
            "Parametr status: pending, active albo blocked.",
            code="validation",
            errors=[{"field": "status", "reason": "dozwolone: pending, active, blocked"}],
        )
    limit = _int_param(request, "limit", 20, 1, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 0, 1_000_000)
    pattern = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await request.app[POOL].fetch(
        f"""SELECT *, {_LAST_LOGIN}, count(*) OVER () AS total FROM accounts a
           WHERE ($1 = '' OR client_number LIKE $1 || '%'
                  OR lower(email) LIKE '%' || lower($1) || '%')
             AND ($2::text IS NULL OR status = $2)
           ORDER BY client_number LIMIT $3 OFFSET $4""",
        pattern,
        status,
        limit,
        offset,
    )
    return json(
        {
            "items": [_account_view(r) for r in rows],
            "total": rows[0]["total"] if rows else 0,
            "limit": limit,
            "offset": offset,
        }
    )


@routes.get(r"/operator/accounts/{client_number}")
async def get_account(request: web.Request) -> web.Response:
    principal = await _operator(request)
    client = _client(request)
    row = await request.app[POOL].fetchrow(
        f"SELECT *, {_LAST_LOGIN} FROM accounts a WHERE client_number = $1", client
    )
    if row is None:
        raise Problem(404, "Nie ma takiego konta.")
    # Operators reading a customer's account is itself accountable (GDPR art. 5(2)).
    await audit.record(
        request.app[POOL],
        "operator.account_viewed",
        actor=f"operator:{principal.subject}",
        subject=client,
        ip=client_ip(request),
    )
    return json(_account_view(row))


@routes.post(r"/operator/accounts/{client_number}/block")
async def block_account(request: web.Request) -> web.Response:
    """Terms IV.3: use contrary to the regulations or the law; the reason is required."""
    principal = await _operator(request)
    body = await read_json(request, schemas.OPERATOR_ACTION)
    client = _client(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        done = await accounts.block(
            conn,
            client,
            reason=body["reason"],
            by=f"operator:{principal.subject}",
            ip=client_ip(request),
        )
    if not done:
        raise Problem(409, "Konto nie istnieje albo nie jest aktywne.", code="not-active")
    return json({"client_number": client, "status": "blocked"})


@routes.post(r"/operator/accounts/{client_number}/unblock")
async def unblock_account(request: web.Request) -> web.Response:
    principal = await _operator(request)
    body = await read_json(request, schemas.OPERATOR_ACTION)
    client = _client(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        done = await accounts.unblock(
            conn,
            client,
            reason=body["reason"],
            by=f"operator:{principal.subject}",
            ip=client_ip(request),
        )
    if not done:
        raise Problem(409, "Konto nie istnieje albo nie jest zablokowane.", code="not-blocked")
    return json({"client_number": client, "status": "active"})


@routes.post(r"/operator/accounts/{client_number}/deletion")
async def delete_account(request: web.Request) -> web.Response:
    """Terms II.6: on the customer's request (the reason records the request)."""
    principal = await _operator(request)
    body = await read_json(request, schemas.OPERATOR_ACTION)
    client = _client(request)
    settings = request.app[AUTH_SETTINGS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        done = await accounts.delete(
            conn,
            client,
            by=f"operator:{principal.subject}",
            retention_years=settings.acceptance_retention_years,
            ip=client_ip(request),
            reason=body["reason"],
        )
    if not done:
        raise Problem(404, "Nie ma takiego konta.")
    return json({"client_number": client, "deleted": True})


@routes.get("/operator/audit")
async def audit_log(request: web.Request) -> web.Response:
    """Newest first; ``before_id`` of the last item fetches the next page."""
    await _operator(request)
    limit = _int_param(request, "limit", 50, 1, MAX_PAGE)
    before = _int_param(request, "before_id", 0, 1, 2**62) if "before_id" in request.query else None
    q = request.query
    items = await audit.query(
        request.app[POOL],
        subject=q.get("subject"),
        type=q.get("type"),
        actor=q.get("actor"),
        since=_time_param(request, "since"),
        until=_time_param(request, "until"),
        before_id=before,
        limit=limit,
    )
    return json(
        {"items": items, "next_before_id": items[-1]["id"] if len(items) == limit else None}
    )


@routes.get("/operator/operators")
async def list_operators(request: web.Request) -> web.Response:
    await _operator(request, role="admin")
    rows = await request.app[POOL].fetch(
        "SELECT login, email, roles, active, created_at, created_by FROM operators"
        " ORDER BY login LIMIT 500"
    )
    return json({"items": [{**dict(r), "created_at": r["created_at"].isoformat()} for r in rows]})


@routes.post("/operator/operators")
@secret_answer
async def create_operator(request: web.Request) -> web.Response:
    """An admin creates an operator; the generated password and TOTP key are shown once."""
    principal = await _operator(request, role="admin")
    body = await read_json(request, schemas.NEW_OPERATOR)
    roles = sorted(set(body["roles"]) | {"operator"})
    created = await operators.create(
        request.app[POOL],
        request.app[HASHER],
        login=body["login"],
        email=body["email"],
        roles=roles,
        by=f"operator:{principal.subject}",
        ip=client_ip(request),
    )
    return json(created, status=201)


@routes.post("/operator/regulations")
async def publish_regulations(request: web.Request) -> web.Response:
    principal = await _operator(request, role="admin")
    body = await read_json(request, schemas.NEW_REGULATIONS)
    effective = _parse_effective(body["effective_from"])
    settings = request.app[AUTH_SETTINGS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        published = await regulations.publish(
            conn,
            body=body["body"],
            summary=body["summary"],
            effective_from=effective,
            by=f"operator:{principal.subject}",
            notice_days=settings.regulations_notice_days,
            ip=client_ip(request),
        )
    return json(published, status=201)


def _parse_effective(raw: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Problem(
            422,
            "effective_from: data i czas ISO 8601 ze strefą czasową.",
            code="validation",
            errors=[{"field": "effective_from", "reason": "nieprawidłowy format"}],
        )
    return value.astimezone(dt.UTC)
