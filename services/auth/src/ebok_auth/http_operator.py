"""Operator routes (terms I.4, II.6–7, IV.1–3): login with TOTP, account search, block and
unblock with a reason, deletion on the customer's request, the audit log, operators
(admin), new regulations versions (admin)."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from ebok_shared.api import auth as schemas
from ebok_shared.http.middleware import public, secret_answer
from ebok_shared.http.params import query_int
from ebok_shared.http.problems import Problem, validation_problem
from ebok_shared.http.roles import ADMIN, CONTENT, CUSTOMER_SERVICE, ROLES, operator_role
from ebok_shared.http.tokens import Principal
from ebok_shared.http.validation import read_json
from ebok_shared.service import POOL

from .domain import CLIENT_NUMBER_RE, OPERATOR_LOGIN_RE
from .http_common import client_ip, deps, json, live_principal
from .resources import HASHER
from .settings import AuthSettings
from .use_cases import accounts, audit, gdpr, login, operators, regulations

routes = web.RouteTableDef()

MAX_PAGE = accounts.MAX_PAGE


async def _operator(request: web.Request) -> Principal:
    """The operator, with a live session (the route's role was checked before the handler:
    ``operator_role``)."""
    return await live_principal(request, "operator")


def _client(request: web.Request) -> str:
    number = request.match_info["client_number"]
    if not CLIENT_NUMBER_RE.match(number):
        raise Problem(404, "Nie ma takiego konta.")
    return number


def _time_param(request: web.Request, name: str) -> dt.datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise validation_problem(
            [{"field": name, "reason": "nieprawidłowy format (ISO 8601)"}],
            detail=f"Parametr {name}: data i czas ISO 8601 ze strefą.",
        )
    return value


@routes.post("/operator/sessions")
@public
@secret_answer
async def operator_login(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.OPERATOR_LOGIN_BODY)
    attempt = login.Attempt(
        "operator", body["login"], body["password"], body["totp_code"], client_ip(request)
    )
    issued = await login.log_in(deps(request), attempt)
    return json(issued.to_dict(), status=201)


@routes.get("/operator/accounts")
@operator_role(CUSTOMER_SERVICE)
async def search_accounts(request: web.Request) -> web.Response:
    """By client number prefix or e-mail fragment, and status; paged (at most 100)."""
    await _operator(request)
    q = request.query.get("q", "").strip()[:100]
    status = request.query.get("status")
    if status not in (None, "pending", "active", "blocked"):
        raise validation_problem(
            [{"field": "status", "reason": "dozwolone: pending, active, blocked"}],
            detail="Parametr status: pending, active albo blocked.",
        )
    limit = query_int(request, "limit", 20, 1, MAX_PAGE)
    offset = query_int(request, "offset", 0, 0, 1_000_000)
    found = await accounts.search(request.app[POOL], accounts.Search(q, status, limit, offset))
    return json(found)


@routes.get(r"/operator/accounts/{client_number}")
@operator_role(CUSTOMER_SERVICE)
async def get_account(request: web.Request) -> web.Response:
    principal = await _operator(request)
    client = _client(request)
    view = await accounts.view(
        request.app[POOL],
        client,
        operator=principal.subject,
        ip=client_ip(request),
        idle_timeout=AuthSettings.of(request.app).session_idle_timeout,
    )
    return json(view)


@routes.post(r"/operator/accounts/{client_number}/block")
@operator_role(CUSTOMER_SERVICE)
async def block_account(request: web.Request) -> web.Response:
    """Terms IV.3: use contrary to the regulations or the law; the reason is required."""
    principal = await _operator(request)
    body = await read_json(request, schemas.OPERATOR_ACTION)
    client = _client(request)
    await accounts.block_by_operator(
        request.app[POOL],
        client,
        reason=body["reason"],
        operator=principal.subject,
        ip=client_ip(request),
    )
    return json({"client_number": client, "status": "blocked"})


@routes.post(r"/operator/accounts/{client_number}/unblock")
@operator_role(CUSTOMER_SERVICE)
async def unblock_account(request: web.Request) -> web.Response:
    principal = await _operator(request)
    body = await read_json(request, schemas.OPERATOR_ACTION)
    client = _client(request)
    await accounts.unblock_by_operator(
        request.app[POOL],
        client,
        reason=body["reason"],
        operator=principal.subject,
        ip=client_ip(request),
    )
    return json({"client_number": client, "status": "active"})


@routes.post(r"/operator/accounts/{client_number}/deletion")
@operator_role(CUSTOMER_SERVICE)
async def delete_account(request: web.Request) -> web.Response:
    """Terms II.6: on the customer's request (the reason records the request)."""
    principal = await _operator(request)
    body = await read_json(request, schemas.OPERATOR_ACTION)
    client = _client(request)
    await accounts.delete_by_operator(
        deps(request),
        client,
        reason=body["reason"],
        operator=principal.subject,
        ip=client_ip(request),
    )
    return json({"client_number": client, "deleted": True})


@routes.get("/operator/deletion-terms")
@operator_role(CUSTOMER_SERVICE)
async def deletion_terms(request: web.Request) -> web.Response:
    """What a deletion on request erases and what the utility must keep (until when, why):
    the explainer customer service shows before deleting an account (as ``/me/deletion``)."""
    await _operator(request)
    return json(gdpr.deletion_terms(AuthSettings.of(request.app)))


@routes.get("/operator/audit")
@operator_role(CUSTOMER_SERVICE)
async def audit_log(request: web.Request) -> web.Response:
    """Newest first; ``before_id`` of the last item fetches the next page."""
    await _operator(request)
    limit = query_int(request, "limit", 50, 1, MAX_PAGE)
    before = query_int(request, "before_id", None, 1, 2**62)
    q = request.query
    wanted = audit.Filter(
        subject=q.get("subject"),
        type=q.get("type"),
        actor=q.get("actor"),
        since=_time_param(request, "since"),
        until=_time_param(request, "until"),
        before_id=before,
        limit=limit,
    )
    return json(await audit.entries(request.app[POOL], wanted))


@routes.get("/operator/operators")
@operator_role(ADMIN)
async def list_operators(request: web.Request) -> web.Response:
    await _operator(request)
    return json({"items": await operators.listing(request.app[POOL])})


@routes.post("/operator/operators")
@operator_role(ADMIN)
@secret_answer
async def create_operator(request: web.Request) -> web.Response:
    """An admin creates an operator; the generated password and TOTP key are shown once."""
    principal = await _operator(request)
    body = await read_json(request, schemas.NEW_OPERATOR)
    roles = sorted(set(body["roles"]), key=ROLES.index)
    created = await operators.create(
        request.app[POOL],
        request.app[HASHER],
        login=body["login"],
        email=body["email"],
        roles=roles,
        by=f"operator:{principal.subject}",
        ip=client_ip(request),
        settings=AuthSettings.of(request.app),
    )
    return json(created, status=201)


def _login(request: web.Request) -> str:
    login = request.match_info["login"]
    if not OPERATOR_LOGIN_RE.match(login):
        raise Problem(404, "Nie ma takiego pracownika.")
    return login


@routes.get("/operator/operators/{login}")
@operator_role(ADMIN)
async def get_operator(request: web.Request) -> web.Response:
    await _operator(request)
    return json(await operators.one(request.app[POOL], _login(request)))


@routes.put("/operator/operators/{login}/roles")
@operator_role(ADMIN)
async def put_operator_roles(request: web.Request) -> web.Response:
    """The operator's roles, replaced (an admin may change their own; the last active
    admin keeps ``admin``). The operator's sessions end: the next login carries the roles."""
    principal = await _operator(request)
    login = _login(request)
    body = await read_json(request, schemas.ROLES_CHANGE)
    changed = await operators.change_roles(
        request.app[POOL],
        login,
        body["roles"],
        reason=body["reason"],
        by=f"operator:{principal.subject}",
        ip=client_ip(request),
    )
    return json(changed)


@routes.post("/operator/operators/{login}/deactivation")
@operator_role(ADMIN)
async def deactivate_operator(request: web.Request) -> web.Response:
    principal = await _operator(request)
    login = _login(request)
    body = await read_json(request, schemas.OPERATOR_ACTION)
    done = await operators.deactivate(
        request.app[POOL],
        login,
        reason=body["reason"],
        by=f"operator:{principal.subject}",
        ip=client_ip(request),
    )
    return json(done)


@routes.post("/operator/operators/{login}/totp-reset")
@operator_role(ADMIN)
@secret_answer
async def reset_operator_totp(request: web.Request) -> web.Response:
    """A new TOTP key for an operator (shown once, with its otpauth:// URI for the QR code)."""
    principal = await _operator(request)
    login = _login(request)
    body = await read_json(request, schemas.OPERATOR_ACTION)
    reset = await operators.reset_totp(
        request.app[POOL],
        login,
        reason=body["reason"],
        by=f"operator:{principal.subject}",
        ip=client_ip(request),
        settings=AuthSettings.of(request.app),
    )
    return json(reset)


@routes.post("/operator/regulations")
@operator_role(CONTENT)
async def publish_regulations(request: web.Request) -> web.Response:
    principal = await _operator(request)
    body = await read_json(request, schemas.NEW_REGULATIONS)
    effective = _parse_effective(body["effective_from"])
    published = await regulations.publish(
        request.app[POOL],
        body=body["body"],
        summary=body["summary"],
        effective_from=effective,
        by=f"operator:{principal.subject}",
        notice_days=AuthSettings.of(request.app).regulations_notice_days,
        ip=client_ip(request),
    )
    return json(published, status=201)


@routes.post("/operator/regulations/preview")
@operator_role(CONTENT)
async def preview_regulations(request: web.Request) -> web.Response:
    """A draft's changed clauses against the latest version, side by side; nothing stored."""
    await _operator(request)
    body = await read_json(request, schemas.REGULATIONS_DRAFT)
    notice = AuthSettings.of(request.app).regulations_notice_days
    return json(await regulations.preview(request.app[POOL], body["body"], notice))


def _parse_effective(raw: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise validation_problem(
            [{"field": "effective_from", "reason": "nieprawidłowy format"}],
            detail="effective_from: data i czas ISO 8601 ze strefą czasową.",
        )
    return value.astimezone(dt.UTC)
