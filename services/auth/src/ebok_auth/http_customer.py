"""The signed-in customer's own routes (and the password change operators share). The
client number always comes from the token."""

from __future__ import annotations

from aiohttp import web
from ebok_shared.api import auth as schemas
from ebok_shared.http.jsonbody import json_answer
from ebok_shared.http.middleware import allow_restricted, require, secret_answer
from ebok_shared.http.tokens import Principal
from ebok_shared.http.validation import read_json
from ebok_shared.service import POOL

from .domain import RESTRICT_PASSWORD, RESTRICT_REGULATIONS
from .http_common import client_ip, deps, json, live_principal, session_gone
from .settings import AuthSettings
from .use_cases import accounts, email, gdpr, passwords, regulations, totp

routes = web.RouteTableDef()

# What a restricted token may still do (the shared auth middleware refuses the rest with a
# problem naming the restriction): set a password; read, accept or leave over new terms.
_BOTH = (RESTRICT_PASSWORD, RESTRICT_REGULATIONS)


async def _customer(request: web.Request) -> Principal:
    return await live_principal(request, "customer")


@routes.get("/me")
@allow_restricted(*_BOTH)
async def me(request: web.Request) -> web.Response:
    """The customer's own view; its session's liveness (``live_principal``) is read in the
    same statement (a part of every first dashboard)."""
    principal = require(request, "customer")
    view = await accounts.me(
        request.app[POOL], principal.subject, principal.session_id, AuthSettings.of(request.app)
    )
    if view is None:
        raise session_gone()
    # orjson: the view is text, numbers and flags only; no-store as every answer by default
    return json_answer(view)


@routes.put("/me/password")
@allow_restricted(*_BOTH)
@secret_answer
async def change_password(request: web.Request) -> web.Response:
    """Customers and operators alike; the one call a first-login session may make."""
    principal = await live_principal(request, "customer", "operator")
    body = await read_json(request, schemas.PASSWORD_CHANGE)
    issued = await passwords.change_password(
        deps(request),
        principal.kind,
        principal.subject,
        body["current_password"],
        body["new_password"],
        client_ip(request),
    )
    return json(issued.to_dict())


@routes.post("/me/regulations/acceptances")
@allow_restricted(RESTRICT_REGULATIONS)
async def accept_regulations(request: web.Request) -> web.Response:
    principal = await _customer(request)
    body = await read_json(request, schemas.ACCEPTANCE)
    accepted = await regulations.accept(
        request.app[POOL], principal.subject, body["version"], client_ip(request)
    )
    return json(accepted, status=201)


@routes.post("/me/email-change")
async def request_email_change(request: web.Request) -> web.Response:
    principal = await _customer(request)
    body = await read_json(request, schemas.EMAIL_CHANGE)
    change = email.ChangeRequest(
        body["email"], body["current_password"], body.get("totp_code"), client_ip(request)
    )
    expires = await email.request_change(deps(request), principal.subject, change)
    return json(
        {
            "message": "Na nowy adres wysłaliśmy link. Adres zmieni się, gdy go potwierdzisz.",
            "expires_at": expires.isoformat(),
        },
        status=202,
    )


# -- two-factor login ------------------------------------------------------------------------


@routes.post("/me/totp")
@secret_answer
async def start_totp(request: web.Request) -> web.Response:
    principal = await _customer(request)
    return json(await totp.start(deps(request), principal.subject), status=201)


@routes.post("/me/totp/activation")
@secret_answer
async def confirm_totp(request: web.Request) -> web.Response:
    principal = await _customer(request)
    body = await read_json(request, schemas.TOTP_CONFIRM)
    codes = await totp.confirm(deps(request), principal.subject, body["code"], client_ip(request))
    return json(
        {
            "recovery_codes": codes,
            "message": "Zapisz kody odzyskiwania w bezpiecznym miejscu; każdy działa raz.",
        }
    )


@routes.post("/me/totp/removal")
async def remove_totp(request: web.Request) -> web.Response:
    principal = await _customer(request)
    body = await read_json(request, schemas.TOTP_REMOVAL)
    await totp.remove(
        deps(request), principal.subject, body["current_password"], body["code"], client_ip(request)
    )
    return web.Response(status=204)


# -- GDPR ------------------------------------------------------------------------------------


@routes.get("/me/data")
@allow_restricted(RESTRICT_REGULATIONS)
async def export(request: web.Request) -> web.Response:
    """GDPR art. 15/20: everything auth holds about the customer."""
    principal = await _customer(request)
    return json(await gdpr.export(request.app[POOL], principal.subject))


@routes.get("/me/deletion")
@allow_restricted(RESTRICT_REGULATIONS)
async def deletion_preview(request: web.Request) -> web.Response:
    """What a deletion erases now and what must be kept, until when and why."""
    await _customer(request)
    return json(gdpr.deletion_terms(AuthSettings.of(request.app)))


@routes.delete("/me")
@allow_restricted(RESTRICT_REGULATIONS)
async def delete_me(request: web.Request) -> web.Response:
    principal = await _customer(request)
    body = await read_json(request, schemas.DELETION)
    terms = await gdpr.delete_own_account(
        deps(request), principal.subject, body["current_password"], client_ip(request)
    )
    return json({"message": "Konto zostało usunięte.", **terms})
