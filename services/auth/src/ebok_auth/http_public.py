"""Anonymous routes: regulations, registration, activation, login, refresh, password reset,
e-mail confirmation, JWKS. (The gateway maps /api/v1/<path> here.)"""

from __future__ import annotations

import datetime as dt
import hmac

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.middleware import allow_restricted, public, secret_answer
from ebok_shared.http.problems import Problem, field_problem
from ebok_shared.http.validation import read_json
from ebok_shared.service import POOL

from . import (
    accounts,
    audit,
    events,
    login,
    passwords,
    projection,
    regulations,
    schemas,
    sessions,
    throttle,
)
from .domain import RESTRICT_PASSWORD, RESTRICT_REGULATIONS, new_token, parse_amount, token_hash
from .resources import AUTH_SETTINGS, HASHER, KEYRING
from .webutil import check_password_policy, client_ip, json, link_gone, live_principal

routes = web.RouteTableDef()

REGISTRATION_ACCEPTED = (
    "Dziękujemy. Jeśli podane dane są zgodne z naszą ewidencją, w ciągu 24 godzin wyślemy na "
    "podany adres e-mail link aktywacyjny."
)
RESET_ACCEPTED = (
    "Jeśli konto o podanym loginie istnieje, wyślemy na jego adres e-mail link do ustawienia "
    "nowego hasła."
)


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
    expected = request.app[AUTH_SETTINGS].service_client_secrets().get(body["client_id"])
    if expected is None or not hmac.compare_digest(
        expected.encode(), body["client_secret"].encode()
    ):
        raise Problem(401, "Nieprawidłowe dane uwierzytelniające usługi.", code="invalid-client")
    token, ttl = request.app[KEYRING].sign({"sub": body["client_id"], "kind": "service"})
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
    app = request.app
    pool, settings = app[POOL], app[AUTH_SETTINGS]
    client, invoice = body["client_number"], body["invoice_number"]
    if not invoice.startswith(client):
        raise field_problem("invoice_number", "numer faktury zaczyna się od numeru klienta")
    gross = parse_amount(body["invoice_gross"])
    if gross is None:
        raise field_problem("invoice_gross", "nieprawidłowa kwota")
    current = await accounts.current_regulations_version(pool)
    if body["accepted_regulations_version"] != current:
        raise field_problem(
            "accepted_regulations_version",
            f"należy zapoznać się i zaakceptować aktualny regulamin (wersja {current})",
        )
    ip = client_ip(request)
    await throttle.hit(
        pool, f"register-ip:{ip}", settings.registration_ip_limit, settings.ip_window_seconds
    )
    await throttle.hit(
        pool,
        f"register-client:{client}",
        settings.registration_client_limit,
        settings.ip_window_seconds,
    )

    async with pool.acquire() as conn, conn.transaction():
        outcome = "registered"
        existing = await conn.fetchrow(
            "SELECT status FROM accounts WHERE client_number = $1 FOR UPDATE", client
        )
        if not await projection.may_register(conn, client, invoice, gross):
            outcome = "proof-not-matching"
        elif existing is not None and existing["status"] != "pending":
            outcome = "account-exists"  # a client has at most one account
        if outcome != "registered":
            await audit.record(
                conn,
                "registration.refused",
                actor="anonymous",
                subject=client,
                ip=ip,
                reason=outcome,
            )
            return json({"message": REGISTRATION_ACCEPTED}, status=202)
        now = clock.now()
        if existing is None:
            await conn.execute(
                "INSERT INTO accounts (client_number, email, status, created_at)"
                " VALUES ($1, $2, 'pending', $3)",
                client,
                body["email"],
                now,
            )
        else:  # registering again before activation: the newest form wins
            await conn.execute(
                "UPDATE accounts SET email = $2, created_at = $3 WHERE client_number = $1",
                client,
                body["email"],
                now,
            )
            await conn.execute(
                "DELETE FROM link_tokens WHERE client_number = $1 AND purpose = 'activation'",
                client,
            )
        token = new_token()
        expires = now + dt.timedelta(hours=settings.activation_ttl_hours)
        await conn.execute(
            "INSERT INTO link_tokens (token_hash, purpose, client_number, created_at, expires_at)"
            " VALUES ($1, 'activation', $2, $3, $4)",
            token_hash(token),
            client,
            now,
            expires,
        )
        await regulations.record_acceptance(conn, client, current, ip, "registration")
        await events.publish(
            conn,
            events.REGISTERED,
            {
                "client_number": client,
                "email": body["email"],
                "activation_token": token,
                "expires_at": expires.isoformat(),
            },
            key=client,
        )
        await audit.record(
            conn,
            "registration.accepted",
            actor="anonymous",
            subject=client,
            ip=ip,
            regulations_version=current,
        )
    return json({"message": REGISTRATION_ACCEPTED}, status=202)


_ACTIVATION_TOKEN = """
SELECT t.client_number, a.email FROM link_tokens t JOIN accounts a USING (client_number)
WHERE t.token_hash = $1 AND t.purpose = 'activation' AND t.used_at IS NULL
  AND t.expires_at > $2 AND a.status = 'pending'
"""


@routes.post("/activations")
@public
@secret_answer
async def activate(request: web.Request) -> web.Response:
    """The POST behind the activation page (mail scanners only GET links). Answers, once,
    with the generated initial password: it is never sent by e-mail."""
    body = await read_json(request, schemas.ACTIVATION)
    app = request.app
    pool, settings = app[POOL], app[AUTH_SETTINGS]
    digest = token_hash(body["token"])
    if await pool.fetchrow(_ACTIVATION_TOKEN, digest, clock.now()) is None:
        raise link_gone("aktywacyjny")
    initial = passwords.generate()
    hashed = await app[HASHER].hash(initial)  # only for a live token: no hashing on demand
    now = clock.now()
    expires = now + dt.timedelta(hours=settings.initial_password_ttl_hours)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(_ACTIVATION_TOKEN + " FOR UPDATE OF t", digest, now)
        if row is not None:
            client = row["client_number"]
            await conn.execute(
                "UPDATE link_tokens SET used_at = $2 WHERE token_hash = $1", digest, now
            )
            await conn.execute(
                "UPDATE accounts SET status = 'active', password_hash = $2,"
                " password_expires_at = $3, must_change_password = true, activated_at = $4"
                " WHERE client_number = $1",
                client,
                hashed,
                expires,
                now,
            )
            await events.publish(
                conn, events.ACTIVATED, {"client_number": client, "email": row["email"]}, key=client
            )
            await audit.record(
                conn, "account.activated", actor="anonymous", subject=client, ip=client_ip(request)
            )
    if row is None:  # spent by a concurrent request meanwhile
        raise link_gone("aktywacyjny")
    return json(
        {
            "login": client,
            "initial_password": initial,
            "initial_password_expires_at": expires.isoformat(),
            "message": "Konto zostało aktywowane. Zaloguj się tym hasłem i od razu ustaw własne; "
            "hasło nie zostanie wyświetlone ponownie.",
        }
    )


# -- sessions ----------------------------------------------------------------------------


@routes.post("/sessions")
@public
@secret_answer
async def create_session(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.LOGIN)
    issued = await login.authenticate(
        request,
        login.Attempt(
            "customer", body["login"], body["password"], body.get("totp_code"), client_ip(request)
        ),
    )
    return json(issued.to_dict(), status=201)


@routes.post("/sessions/refresh")
@public
@secret_answer
async def refresh_session(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.REFRESH)
    app = request.app
    pool, settings = app[POOL], app[AUTH_SETTINGS]
    issued = None
    async with pool.acquire() as conn, conn.transaction():
        spent = await sessions.spend_refresh(conn, body["refresh_token"], settings)
        session = spent.session
        if spent.reused:
            await audit.record(
                conn, "session.refresh_reused", actor="anonymous", ip=client_ip(request)
            )
        elif session is not None:
            row = await login.load_live(conn, session["kind"], session["subject"])
            if row is None:  # blocked or deleted meanwhile
                await sessions.revoke(conn, session["id"], reason="account-unavailable")
            else:
                grant = await login.grant_for(conn, session["kind"], row)
                issued = await sessions.reissue(conn, app[KEYRING], grant, session["id"])
    if issued is None:  # committed first: a reused token's family stays revoked
        raise Problem(
            401,
            "Sesja wygasła lub została zakończona. Zaloguj się ponownie.",
            code="invalid-refresh-token",
        )
    return json(issued.to_dict())


@routes.delete("/sessions/current")
@allow_restricted(RESTRICT_PASSWORD, RESTRICT_REGULATIONS)
async def logout(request: web.Request) -> web.Response:
    principal = await live_principal(request, "customer", "operator")
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await sessions.revoke(conn, sessions.session_uuid(principal.session_id), reason="logout")
        await audit.record(
            conn,
            "logout",
            actor=f"{principal.kind}:{principal.subject}",
            subject=principal.subject,
            ip=client_ip(request),
        )
    return web.Response(status=204)


# -- password reset and e-mail confirmation -----------------------------------------------


@routes.post("/password-resets")
@public
async def request_reset(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.RESET_REQUEST)
    app = request.app
    pool, settings = app[POOL], app[AUTH_SETTINGS]
    ip, client = client_ip(request), body["login"]
    await throttle.hit(pool, f"reset-ip:{ip}", settings.reset_ip_limit, settings.ip_window_seconds)
    await throttle.hit(
        pool, f"reset-login:{client}", settings.reset_login_limit, settings.ip_window_seconds
    )
    async with pool.acquire() as conn, conn.transaction():
        email = await conn.fetchval(
            "SELECT email FROM accounts WHERE client_number = $1 AND status = 'active'", client
        )
        if email is not None:
            now = clock.now()
            token = new_token()
            expires = now + dt.timedelta(minutes=settings.password_reset_ttl_minutes)
            await conn.execute(
                "INSERT INTO link_tokens (token_hash, purpose, client_number, created_at,"
                " expires_at) VALUES ($1, 'password_reset', $2, $3, $4)",
                token_hash(token),
                client,
                now,
                expires,
            )
            await events.publish(
                conn,
                events.PASSWORD_RESET_REQUESTED,
                {
                    "client_number": client,
                    "email": email,
                    "token": token,
                    "expires_at": expires.isoformat(),
                },
                key=client,
            )
        await audit.record(
            conn,
            "password_reset.requested",
            actor="anonymous",
            subject=client if email else None,
            ip=ip,
            **({} if email else {"attempted_login": client}),
        )
    return json({"message": RESET_ACCEPTED}, status=202)


_RESET_TOKEN = """
SELECT t.client_number FROM link_tokens t JOIN accounts a USING (client_number)
WHERE t.token_hash = $1 AND t.purpose = 'password_reset' AND t.used_at IS NULL
  AND t.expires_at > $2 AND a.status = 'active'
"""


@routes.post("/password-resets/confirm")
@public
async def confirm_reset(request: web.Request) -> web.Response:
    body = await read_json(request, schemas.RESET_CONFIRM)
    app = request.app
    pool = app[POOL]
    digest = token_hash(body["token"])
    client = await pool.fetchval(_RESET_TOKEN, digest, clock.now())
    if client is None:
        raise link_gone("do ustawienia hasła")
    check_password_policy(body["new_password"], client)
    hashed = await app[HASHER].hash(body["new_password"])
    async with pool.acquire() as conn, conn.transaction():
        now = clock.now()
        if await conn.fetchval(_RESET_TOKEN + " FOR UPDATE OF t", digest, now) is None:
            raise link_gone("do ustawienia hasła")
        await conn.execute(
            "UPDATE link_tokens SET used_at = $2 WHERE client_number = $1"
            " AND purpose = 'password_reset' AND used_at IS NULL",
            client,
            now,
        )
        await conn.execute(
            "UPDATE accounts SET password_hash = $2, password_expires_at = NULL,"
            " must_change_password = false, password_changed_at = $3 WHERE client_number = $1",
            client,
            hashed,
            now,
        )
        await sessions.revoke_all(conn, "customer", client, reason="password-reset")
        await throttle.clear(conn, "customer", client)
        await audit.record(
            conn,
            "password.reset",
            actor=f"customer:{client}",
            subject=client,
            ip=client_ip(request),
        )
    return json({"message": "Hasło zostało zmienione. Zaloguj się nowym hasłem."})


@routes.post("/email-changes/confirm")
@public
async def confirm_email_change(request: web.Request) -> web.Response:
    """The new address proves it is the customer's by following the link sent to it."""
    body = await read_json(request, schemas.EMAIL_CONFIRM)
    digest = token_hash(body["token"])
    async with request.app[POOL].acquire() as conn, conn.transaction():
        now = clock.now()
        row = await conn.fetchrow(
            "SELECT t.client_number, t.new_email, a.email FROM link_tokens t"
            " JOIN accounts a USING (client_number)"
            " WHERE t.token_hash = $1 AND t.purpose = 'email_change' AND t.used_at IS NULL"
            " AND t.expires_at > $2 FOR UPDATE OF t, a",
            digest,
            now,
        )
        if row is None:
            raise link_gone("potwierdzający adres e-mail")
        client = row["client_number"]
        await conn.execute(
            "UPDATE link_tokens SET used_at = $2 WHERE client_number = $1"
            " AND purpose = 'email_change' AND used_at IS NULL",
            client,
            now,
        )
        await conn.execute(
            "UPDATE accounts SET email = $2 WHERE client_number = $1", client, row["new_email"]
        )
        await events.publish(
            conn,
            events.EMAIL_CHANGED,
            {"client_number": client, "email": row["new_email"], "previous_email": row["email"]},
            key=client,
        )
        await audit.record(
            conn, "email.changed", actor=f"customer:{client}", subject=client, ip=client_ip(request)
        )
    return json({"message": "Adres e-mail został zmieniony.", "email": row["new_email"]})
