"""The signed-in customer's own routes. The client number always comes from the token."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.middleware import allow_restricted, secret_answer
from ebok_shared.http.problems import Problem
from ebok_shared.http.tokens import Principal
from ebok_shared.http.validation import read_json
from ebok_shared.service import POOL

from . import accounts, audit, events, gdpr, login, regulations, schemas, sessions, throttle, totp
from .domain import RESTRICT_PASSWORD, RESTRICT_REGULATIONS, new_token, token_hash
from .resources import AUTH_SETTINGS, HASHER, KEYRING
from .webutil import check_password_policy, client_ip, json, live_principal

routes = web.RouteTableDef()

# What a restricted token may still do (the shared auth middleware refuses the rest with a
# problem naming the restriction): set a password; read, accept or leave over new terms.
_BOTH = (RESTRICT_PASSWORD, RESTRICT_REGULATIONS)


async def _customer(request: web.Request) -> Principal:
    return await live_principal(request, "customer")


async def _account(request: web.Request, principal: Principal):  # type: ignore[no-untyped-def]
    row = await accounts.get(request.app[POOL], principal.subject)
    if row is None:
        raise Problem(401, "Konto nie istnieje.", code="session-ended")
    return row


async def _verify_current_password(
    request: web.Request, principal: Principal, stored: str | None, password: str
) -> None:
    """A wrong current password counts toward the lockout: a stolen access token must not
    become a password-guessing oracle."""
    if await request.app[HASHER].verify(stored, password):
        return
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await throttle.record_failure(
            conn, principal.kind, principal.subject, request.app[AUTH_SETTINGS]
        )
        await audit.record(
            conn,
            "password.verification_failed",
            actor=f"{principal.kind}:{principal.subject}",
            subject=principal.subject,
            ip=client_ip(request),
        )
    raise Problem(
        422,
        "Obecne hasło jest nieprawidłowe.",
        code="validation",
        errors=[{"field": "current_password", "reason": "nieprawidłowe hasło"}],
    )


@routes.get("/me")
@allow_restricted(*_BOTH)
async def me(request: web.Request) -> web.Response:
    principal = await _customer(request)
    row = await _account(request, principal)
    pool = request.app[POOL]
    accepted = await pool.fetchval(
        "SELECT coalesce(max(version), 0) FROM regulations_acceptances WHERE client_number = $1",
        principal.subject,
    )
    return json(
        {
            "client_number": row["client_number"],
            "email": row["email"],
            "status": row["status"],
            "created_at": row["created_at"].isoformat(),
            "activated_at": row["activated_at"].isoformat() if row["activated_at"] else None,
            "password_changed_at": (
                row["password_changed_at"].isoformat() if row["password_changed_at"] else None
            ),
            "totp_enabled": row["totp_secret"] is not None,
            "regulations": {
                "accepted_version": accepted,
                "current_version": await accounts.current_regulations_version(pool),
            },
        }
    )


@routes.put("/me/password")
@allow_restricted(*_BOTH)
@secret_answer
async def change_password(request: web.Request) -> web.Response:
    """Customers and operators alike; the one call a first-login session may make."""
    principal = await live_principal(request, "customer", "operator")
    body = await read_json(request, schemas.PASSWORD_CHANGE)
    app = request.app
    pool = app[POOL]
    check_password_policy(body["new_password"], principal.subject)
    async with pool.acquire() as conn:
        row = await login.load_live(conn, principal.kind, principal.subject)
    if row is None:
        raise Problem(401, "Sesja wygasła lub została zakończona.", code="session-ended")
    await _verify_current_password(
        request, principal, row["password_hash"], body["current_password"]
    )
    hashed = await app[HASHER].hash(body["new_password"])
    sid = sessions.session_uuid(principal.session_id)
    async with pool.acquire() as conn, conn.transaction():
        if principal.kind == "customer":
            await conn.execute(
                "UPDATE accounts SET password_hash = $2, must_change_password = false,"
                " password_expires_at = NULL, password_changed_at = $3 WHERE client_number = $1",
                principal.subject,
                hashed,
                clock.now(),
            )
        else:
            await conn.execute(
                "UPDATE operators SET password_hash = $2, must_change_password = false"
                " WHERE login = $1",
                principal.subject,
                hashed,
            )
        # Whoever else holds a session of this account is signed out; this one continues.
        revoked = await sessions.revoke_all(
            conn, principal.kind, principal.subject, reason="password-changed", keep=sid
        )
        await throttle.clear(conn, principal.kind, principal.subject)
        await audit.record(
            conn,
            "password.changed",
            actor=f"{principal.kind}:{principal.subject}",
            subject=principal.subject,
            ip=client_ip(request),
            other_sessions_revoked=revoked,
        )
        row = await login.load_live(conn, principal.kind, principal.subject)
        assert row is not None and sid is not None
        issued = await sessions.reissue(
            conn, app[KEYRING], await login.grant_for(conn, principal.kind, row), sid
        )
    return json(issued.to_dict())


@routes.post("/me/regulations/acceptances")
@allow_restricted(RESTRICT_REGULATIONS)
async def accept_regulations(request: web.Request) -> web.Response:
    principal = await _customer(request)
    body = await read_json(request, schemas.ACCEPTANCE)
    pool = request.app[POOL]
    current = await accounts.current_regulations_version(pool)
    exists = await pool.fetchval("SELECT true FROM regulations WHERE version = $1", body["version"])
    if not exists or body["version"] < current:
        raise Problem(
            422,
            f"Można zaakceptować wersję {current} regulaminu lub nowszą opublikowaną.",
            code="validation",
            errors=[{"field": "version", "reason": "nieaktualna lub nieznana wersja"}],
        )
    async with pool.acquire() as conn, conn.transaction():
        accepted_at = await regulations.record_acceptance(
            conn, principal.subject, body["version"], client_ip(request), "session"
        )
        await audit.record(
            conn,
            "regulations.accepted",
            actor=f"customer:{principal.subject}",
            subject=principal.subject,
            ip=client_ip(request),
            version=body["version"],
        )
    # The restriction lifts with the next token: the client refreshes its session.
    return json({"version": body["version"], "accepted_at": accepted_at.isoformat()}, status=201)


@routes.post("/me/email-change")
async def request_email_change(request: web.Request) -> web.Response:
    principal = await _customer(request)
    body = await read_json(request, schemas.EMAIL_CHANGE)
    app = request.app
    pool, settings = app[POOL], app[AUTH_SETTINGS]
    client = principal.subject
    await throttle.hit(pool, f"email-change:{client}", 5, 3600)
    async with pool.acquire() as conn, conn.transaction():
        now = clock.now()
        token = new_token()
        expires = now + dt.timedelta(hours=settings.email_change_ttl_hours)
        await conn.execute(
            "INSERT INTO link_tokens (token_hash, purpose, client_number, new_email, created_at,"
            " expires_at) VALUES ($1, 'email_change', $2, $3, $4, $5)",
            token_hash(token),
            client,
            body["email"],
            now,
            expires,
        )
        await events.publish(
            conn,
            events.EMAIL_CHANGE_REQUESTED,
            {
                "client_number": client,
                "new_email": body["email"],
                "token": token,
                "expires_at": expires.isoformat(),
            },
            key=client,
        )
        await audit.record(
            conn,
            "email_change.requested",
            actor=f"customer:{client}",
            subject=client,
            ip=client_ip(request),
        )
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
    row = await _account(request, principal)
    if row["totp_secret"] is not None:
        raise Problem(409, "Logowanie dwuskładnikowe jest już włączone.", code="totp-enabled")
    secret = totp.new_secret()
    await request.app[POOL].execute(
        "UPDATE accounts SET totp_pending_secret = $2 WHERE client_number = $1",
        principal.subject,
        secret,
    )
    settings = request.app[AUTH_SETTINGS]
    return json(
        {
            "secret": secret,
            "otpauth_uri": totp.provisioning_uri(secret, principal.subject, settings.totp_issuer),
        },
        status=201,
    )


@routes.post("/me/totp/activation")
@secret_answer
async def confirm_totp(request: web.Request) -> web.Response:
    principal = await _customer(request)
    body = await read_json(request, schemas.TOTP_CONFIRM)
    row = await _account(request, principal)
    secret = row["totp_pending_secret"]
    step = totp.matching_step(secret, body["code"], None) if secret else None
    if step is None:
        raise Problem(
            422,
            "Nieprawidłowy kod. Sprawdź czas w telefonie i spróbuj ponownie.",
            code="validation",
            errors=[{"field": "code", "reason": "nieprawidłowy kod"}],
        )
    codes = totp.new_recovery_codes()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE accounts SET totp_secret = $2, totp_pending_secret = NULL, totp_last_step = $3"
            " WHERE client_number = $1",
            principal.subject,
            secret,
            step,
        )
        await conn.execute("DELETE FROM recovery_codes WHERE client_number = $1", principal.subject)
        await conn.executemany(
            "INSERT INTO recovery_codes (client_number, code_hash) VALUES ($1, $2)",
            [(principal.subject, totp.recovery_hash(c)) for c in codes],
        )
        await audit.record(
            conn,
            "totp.enabled",
            actor=f"customer:{principal.subject}",
            subject=principal.subject,
            ip=client_ip(request),
        )
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
    row = await _account(request, principal)
    await _verify_current_password(
        request, principal, row["password_hash"], body["current_password"]
    )
    if (
        row["totp_secret"] is None
        or totp.matching_step(row["totp_secret"], body["code"], row["totp_last_step"]) is None
    ):
        raise Problem(
            422,
            "Nieprawidłowy kod.",
            code="validation",
            errors=[{"field": "code", "reason": "nieprawidłowy kod"}],
        )
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE accounts SET totp_secret = NULL, totp_pending_secret = NULL,"
            " totp_last_step = NULL WHERE client_number = $1",
            principal.subject,
        )
        await conn.execute("DELETE FROM recovery_codes WHERE client_number = $1", principal.subject)
        await audit.record(
            conn,
            "totp.disabled",
            actor=f"customer:{principal.subject}",
            subject=principal.subject,
            ip=client_ip(request),
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
    return json(gdpr.deletion_terms(request.app[AUTH_SETTINGS]))


@routes.delete("/me")
@allow_restricted(RESTRICT_REGULATIONS)
async def delete_me(request: web.Request) -> web.Response:
    principal = await _customer(request)
    body = await read_json(request, schemas.DELETION)
    row = await _account(request, principal)
    await _verify_current_password(
        request, principal, row["password_hash"], body["current_password"]
    )
    settings = request.app[AUTH_SETTINGS]
    terms = gdpr.deletion_terms(settings)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await accounts.delete(
            conn,
            principal.subject,
            by=f"customer:{principal.subject}",
            retention_years=settings.acceptance_retention_years,
            ip=client_ip(request),
            reason="customer-request",
        )
    return json({"message": "Konto zostało usunięte.", **terms})
