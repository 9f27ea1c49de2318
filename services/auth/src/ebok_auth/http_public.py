"""Anonymous routes: regulations, registration, activation, login, refresh, password reset,
e-mail confirmation, JWKS, service tokens; and logging out. (The gateway maps
/api/v1/<path> here.)"""

from __future__ import annotations

from aiohttp import web
from ebok_shared.api import auth as schemas
from ebok_shared.http.middleware import allow_restricted, public, secret_answer
from ebok_shared.http.validation import read_json
from ebok_shared.service import POOL

from .domain import RESTRICT_PASSWORD, RESTRICT_REGULATIONS
from .http_common import client_ip, deps, json, live_principal
from .resources import KEYRING
from .settings import AuthSettings
from .use_cases import email, login, passwords, registration, regulations, sessions

routes = web.RouteTableDef()


@routes.get("/.well-known/jwks.json")
@public
async def jwks(request: web.Request) -> web.Response:
    # Short cache: a rotated-in key is fetched on first sight of its kid anyway.
    return web.json_response(
        request.app[KEYRING].jwks(), headers={"Cache-Control": "public, max-age=60"}
    )


SERVICE_TOKEN_SCHEMA = {
    "type": "object",
    "required": ["client_id", "client_secret"],
    "additionalProperties": False,
    "properties": {
        "client_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "client_secret": {"type": "string", "minLength": 1, "maxLength": 256},
    },
}


@routes.post("/service-tokens")
@public
@secret_answer
async def service_token(request: web.Request) -> web.Response:
    """A token of kind "service" for another e-BOK service (client credentials)."""
    body = await read_json(request, SERVICE_TOKEN_SCHEMA)
    token, ttl = login.issue_service_token(
        request.app[KEYRING],
        AuthSettings.of(request.app),
        body["client_id"],
        body["client_secret"],
    )
    return json({"access_token": token, "token_type": "Bearer", "expires_in": ttl})


# -- regulations ---------------------------------------------------------------------------


@routes.get("/regulations/current")
@public
async def regulations_current(request: web.Request) -> web.Response:
    return json(await regulations.current(request.app[POOL]))


@routes.get(r"/regulations/{version:\d{1,6}}")
@public
async def regulations_version(request: web.Request) -> web.Response:
    return json(await regulations.version(request.app[POOL], int(request.match_info["version"])))


@routes.get(r"/regulations/{version:\d{1,6}}/changes")
@public
async def regulations_changes(request: web.Request) -> web.Response:
    return json(await regulations.changes(request.app[POOL], int(request.match_info["version"])))


# -- registration and activation -------------------------------------------------------------


@routes.post("/registrations")
@public
async def register(request: web.Request) -> web.Response:
    """Terms II: online only, with proof (an invoice's number and gross amount) and the
    current regulations accepted. The answer never tells whether the client number exists."""
    body = await read_json(request, schemas.REGISTRATION)
    form = registration.Registration(
        client_number=body["client_number"],
        email=body["email"],
        invoice_number=body["invoice_number"],
        invoice_gross=body["invoice_gross"],
        accepted_regulations_version=body["accepted_regulations_version"],
        ip=client_ip(request),
    )
    return json({"message": await registration.register(deps(request), form)}, status=202)


@routes.post("/activations")
@public
@secret_answer
async def activate(request: web.Request) -> web.Response:
    """The POST behind the activation page (mail scanners only GET links)."""
    body = await read_json(request, schemas.ACTIVATION)
    return json(await registration.activate(deps(request), body["token"], client_ip(request)))


# -- sessions ----------------------------------------------------------------------------


@routes.post("/sessions")
@public
@secret_answer
async def create_session(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.LOGIN)
    attempt = login.Attempt(
        "customer", body["login"], body["password"], body.get("totp_code"), client_ip(request)
    )
    issued = await login.log_in(deps(request), attempt)
    return json(issued.to_dict(), status=201)


@routes.post("/sessions/refresh")
@public
@secret_answer
async def refresh_session(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.REFRESH)
    issued = await sessions.refresh(deps(request), body["refresh_token"], client_ip(request))
    return json(issued.to_dict())


@routes.delete("/sessions/current")
@allow_restricted(RESTRICT_PASSWORD, RESTRICT_REGULATIONS)
async def logout(request: web.Request) -> web.Response:
    principal = await live_principal(request, "customer", "operator")
    await sessions.log_out(
        request.app[POOL],
        principal.kind,
        principal.subject,
        principal.session_id,
        client_ip(request),
    )
    return web.Response(status=204)


# -- password reset and e-mail confirmation -----------------------------------------------


@routes.post("/password-resets")
@public
async def request_reset(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.RESET_REQUEST)
    message = await passwords.request_reset(deps(request), body["login"], client_ip(request))
    return json({"message": message}, status=202)


@routes.post("/password-resets/confirm")
@public
async def confirm_reset(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.RESET_CONFIRM)
    await passwords.confirm_reset(
        deps(request), body["token"], body["new_password"], client_ip(request)
    )
    return json({"message": "Hasło zostało zmienione. Zaloguj się nowym hasłem."})


@routes.post("/email-changes/confirm")
@public
async def confirm_email_change(request: web.Request) -> web.Response:
    """The new address proves it is the customer's by following the link sent to it."""
    body = await read_json(request, schemas.EMAIL_CONFIRM)
    new_email = await email.confirm_change(request.app[POOL], body["token"], client_ip(request))
    return json({"message": "Adres e-mail został zmieniony.", "email": new_email})
