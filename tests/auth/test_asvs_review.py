"""Issue #15 (ASVS 4.0.3 L2 review) in auth: each test fails with its defence removed."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import asyncpg
import jwt
import pyotp
import pytest
from ebok_auth.audit_seal import AuditSeal
from ebok_auth.passwords import policy_violations
from ebok_auth.repository.audit import prune as prune_audit
from ebok_auth.totp_vault import TotpVault
from ebok_auth.use_cases.audit import seal_unsealed, verify_chain
from ebok_auth.use_cases.totp import seal_stored
from ebok_shared.clock import clock
from ebok_shared.config import ConfigError

from tests.auth.harness import (
    AUDIT_KEYS,
    TOTP_KEYS,
    Auth,
    running_auth,
    settings_for,
)
from tests.support.process import service_command
from tests.support.waiting import eventually

PASSWORD = "Kropla-Deszczu-2026!x"
CONTEXT = "nazwie Spółki, miasta, e-BOK"


# -- item 10: context words ---------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "Wodociagi1",
        "Mpwik2024",
        "Ebok12345",
        "Kanalizacja1",
        "WODOCIĄGÓW-77",  # diacritics and case do not matter
        "e-BOK-2024!",
        "Warszawa2024!",
        "Warszawie#1x",
        "MPWiK-Wodomierz-9",
    ],
)
def test_passwords_built_on_context_words_are_refused(password: str) -> None:
    broken = policy_violations(password, "100001")
    assert len(broken) == 1 and CONTEXT in broken[0], broken


def test_a_phrase_mentioning_water_is_still_a_password() -> None:
    assert policy_violations("Moja-Woda-Jest-Czysta-7", "100001") == []
    assert policy_violations(PASSWORD, "100001") == []


async def test_a_context_password_is_refused_with_its_reason(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    status, problem = await auth.call(
        "PUT",
        "/me/password",
        token=tokens["access_token"],
        json_body={"current_password": PASSWORD, "new_password": "Wodociągi1"},
    )
    assert status == 422 and problem["code"] == "password-policy"
    assert [e["field"] for e in problem["errors"]] == ["new_password"]
    assert CONTEXT in problem["errors"][0]["reason"]


# -- item 8: MFA answers do not tell that the password was right ----------------------------


async def _with_totp(auth: Auth, number: str = "100001") -> tuple[dict[str, Any], pyotp.TOTP]:
    await auth.client_with_invoice(number)
    tokens = await auth.customer(number, PASSWORD)
    _, enrol = await auth.call("POST", "/me/totp", token=tokens["access_token"])
    totp = pyotp.TOTP(enrol["secret"])
    status, _ = await auth.call(
        "POST", "/me/totp/activation", token=tokens["access_token"], json_body={"code": totp.now()}
    )
    assert status == 200
    return tokens, totp


def _same(answer: tuple[int, Any]) -> tuple[int, dict[str, Any]]:
    """An answer without what differs per request (its correlation id)."""
    status, body = answer
    return status, {k: v for k, v in body.items() if k != "correlation_id"}


def _wrong(totp: pyotp.TOTP) -> str:
    return "000000" if totp.now() != "000000" else "111111"


async def test_two_factor_answers_are_the_same_whether_the_password_was_right(
    auth: Auth,
) -> None:
    _, totp = await _with_totp(auth)
    # Without a code, the code is asked for before the password is judged.
    right = _same(await auth.login("100001", PASSWORD))
    wrong = _same(await auth.login("100001", "Zle-Haslo-2026!x"))
    assert right == wrong and right[0] == 401 and right[1]["code"] == "totp-required"
    # With a wrong code, a right and a wrong password get one answer.
    right = _same(await auth.login("100001", PASSWORD, totp_code=_wrong(totp)))
    wrong = _same(await auth.login("100001", "Zle-Haslo-2026!x", totp_code=_wrong(totp)))
    assert right == wrong and right[0] == 401 and right[1]["code"] == "invalid-credentials"
    # And an unknown login with a code answers the same.
    assert _same(await auth.login("100002", PASSWORD, totp_code=_wrong(totp))) == right


# -- item 13: a new session after the first-login password change; activation link 24 h ------


async def test_the_first_login_password_change_starts_a_new_session(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    initial = await auth.activated_account("100001")
    status, first = await auth.login("100001", initial)
    assert status == 201 and first["password_change_required"]
    old_sid = jwt.decode(first["access_token"], options={"verify_signature": False})["sid"]
    status, changed = await auth.call(
        "PUT",
        "/me/password",
        token=first["access_token"],
        json_body={"current_password": initial, "new_password": PASSWORD},
    )
    assert status == 200 and not changed["password_change_required"]
    new_sid = jwt.decode(changed["access_token"], options={"verify_signature": False})["sid"]
    assert new_sid != old_sid
    # The first session is over: its tokens are refused, the new ones work.
    assert (await auth.call("GET", "/me", token=first["access_token"]))[0] == 401
    refused, _ = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": first["refresh_token"]}
    )
    assert refused == 401
    assert (await auth.call("GET", "/me", token=changed["access_token"]))[0] == 200
    ended = await auth.tap.payload("auth.sessions.ended", reason="password-changed")
    assert ended["session_ids"] == [old_sid]


async def test_an_activation_link_lives_24_hours(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    clock.freeze(clock.now())
    assert (await auth.register("100001"))[0] == 202
    event = await auth.tap.payload("auth.account.registered", client_number="100001")
    assert dt.datetime.fromisoformat(event["expires_at"]) == clock.now() + dt.timedelta(hours=24)
    clock.advance(dt.timedelta(hours=24, seconds=1))
    status, problem = await auth.call(
        "POST", "/activations", json_body={"token": event["activation_token"]}
    )
    assert status == 410 and problem["code"] == "link-invalid"
    with pytest.raises(ConfigError, match="ACTIVATION_TTL"):
        settings_for("postgresql://x/y", "amqp://x", "p", activation_ttl_hours=72)


# -- item 3 (and #14 item 10): notices of credential changes, without a secret --------------


def _no_secret(payload: dict[str, Any], *secrets: str) -> None:
    text = json.dumps(payload)
    for secret in secrets:
        assert secret not in text
    assert not {"password", "token", "secret", "code"} & {k.lower() for k in payload}


async def test_the_account_address_hears_of_every_password_change_and_reset(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    await auth.customer("100001", PASSWORD)  # the first-login change is a change too
    changed = await auth.tap.payload("auth.password.changed", client_number="100001", how="changed")
    assert changed["email"] == "jan@example.pl"
    _no_secret(changed, PASSWORD)

    await auth.call("POST", "/password-resets", json_body={"login": "100001"})
    token = (await auth.tap.payload("auth.password_reset.requested", client_number="100001"))[
        "token"
    ]
    status, _ = await auth.call(
        "POST",
        "/password-resets/confirm",
        json_body={"token": token, "new_password": "Nowe-Haslo-2027"},
    )
    assert status == 200
    reset = await auth.tap.payload("auth.password.changed", client_number="100001", how="reset")
    assert reset["email"] == "jan@example.pl"
    _no_secret(reset, "Nowe-Haslo-2027", token)


async def test_an_operators_address_hears_of_their_own_password_change(auth: Auth) -> None:
    """Operators get the notice customers get (their accounts reach every customer)."""
    tokens = await auth.operator(login="ewa.lis", password="Operator-Haslo-1")
    status, _ = await auth.call(
        "PUT",
        "/me/password",
        token=tokens["access_token"],
        json_body={"current_password": "Operator-Haslo-1", "new_password": "Nowe-Operator-2027"},
    )
    assert status == 200
    notice = await auth.tap.payload("auth.operator.password_changed", login="ewa.lis")
    assert notice["email"] == "ewa.lis@mpwik.example"
    _no_secret(notice, "Operator-Haslo-1", "Nowe-Operator-2027")


async def test_the_account_address_hears_when_two_factor_login_goes_on_and_off(
    auth: Auth,
) -> None:
    tokens, totp = await _with_totp(auth)
    on = await auth.tap.payload("auth.totp.changed", client_number="100001", enabled=True)
    assert on["email"] == "jan@example.pl"
    clock.advance(dt.timedelta(seconds=30))
    status, _ = await auth.call(
        "POST",
        "/me/totp/removal",
        token=tokens["access_token"],
        json_body={"current_password": PASSWORD, "code": totp.at(clock.now())},
    )
    assert status == 204
    off = await auth.tap.payload("auth.totp.changed", client_number="100001", enabled=False)
    assert off["email"] == "jan@example.pl"
    _no_secret(on, PASSWORD)
    _no_secret(off, PASSWORD)


# -- item 4: re-authentication for the e-mail change and turning two-factor login off ---------


async def test_an_email_change_needs_the_current_password(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    token = tokens["access_token"]
    status, problem = await auth.call(
        "POST", "/me/email-change", token=token, json_body={"email": "zlodziej@example.pl"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "current_password"
    status, problem = await auth.call(
        "POST",
        "/me/email-change",
        token=token,
        json_body={"email": "zlodziej@example.pl", "current_password": "Zgadywane-Haslo-1"},
    )
    assert status == 422 and problem["errors"][0]["field"] == "current_password"
    assert not auth.tap.of("auth.email_change.requested")
    status, _ = await auth.call(
        "POST",
        "/me/email-change",
        token=token,
        json_body={"email": "jan.nowy@example.pl", "current_password": PASSWORD},
    )
    assert status == 202


async def test_with_two_factor_on_an_email_change_needs_a_fresh_code_too(auth: Auth) -> None:
    tokens, totp = await _with_totp(auth)
    token = tokens["access_token"]
    body = {"email": "jan.nowy@example.pl", "current_password": PASSWORD}
    status, problem = await auth.call("POST", "/me/email-change", token=token, json_body=body)
    assert status == 422 and problem["errors"][0]["field"] == "totp_code"
    status, problem = await auth.call(
        "POST", "/me/email-change", token=token, json_body={**body, "totp_code": _wrong(totp)}
    )
    assert status == 422 and problem["errors"][0]["field"] == "totp_code"
    clock.freeze(clock.now() + dt.timedelta(seconds=30))
    code = totp.at(clock.now())
    status, _ = await auth.call(
        "POST", "/me/email-change", token=token, json_body={**body, "totp_code": code}
    )
    assert status == 202
    await auth.tap.payload("auth.email_change.requested", client_number="100001")
    assert len(auth.tap.of("auth.email_change.requested")) == 1


async def test_two_factor_login_goes_off_only_with_the_password_and_a_fresh_code(
    auth: Auth,
) -> None:
    tokens, totp = await _with_totp(auth)
    token = tokens["access_token"]
    clock.freeze(clock.now() + dt.timedelta(seconds=30))
    code = totp.at(clock.now())
    status, problem = await auth.call(
        "POST",
        "/me/totp/removal",
        token=token,
        json_body={"current_password": "Zgadywane-Haslo-1", "code": code},
    )
    assert status == 422 and problem["errors"][0]["field"] == "current_password"
    assert (await auth.login("100001", PASSWORD, totp_code=code))[0] == 201  # code spent
    status, problem = await auth.call(
        "POST",
        "/me/totp/removal",
        token=token,
        json_body={"current_password": PASSWORD, "code": code},
    )
    assert status == 422 and problem["errors"][0]["field"] == "code"
    _, me = await auth.call("GET", "/me", token=token)
    assert me["totp_enabled"] is True


# -- item 11: TOTP keys encrypted at rest, rotation-ready; a reused code refused and noted -----


async def test_totp_keys_are_stored_encrypted_with_their_key_id(auth: Auth) -> None:
    _, totp = await _with_totp(auth)
    row = await auth.pool.fetchrow(
        "SELECT totp_secret, totp_key_id FROM accounts WHERE client_number = '100001'"
    )
    assert row["totp_key_id"] == "t2"  # the first key of EBOK_TOTP_KEYS seals
    assert totp.secret not in row["totp_secret"]
    vault = TotpVault.parse(TOTP_KEYS)
    assert vault.open("t2", row["totp_secret"], "customer:100001") == totp.secret
    with pytest.raises(LookupError):  # bound to its account: copied elsewhere, it does not open
        vault.open("t2", row["totp_secret"], "customer:100002")
    operator = await auth.operator()
    stored = await auth.pool.fetchrow("SELECT totp_secret, totp_key_id FROM operators")
    assert stored["totp_key_id"] == "t2" and operator["totp_secret"] not in stored["totp_secret"]


async def test_keys_in_clear_or_under_an_old_key_are_sealed_anew_and_still_work(
    auth: Auth,
) -> None:
    """The migration to encryption (keys stored in clear) and a rotation (t1 → t2)."""
    _, totp = await _with_totp(auth)
    _, other = await _with_totp(auth, "100002")
    old = TotpVault.parse(TOTP_KEYS.split(",")[1])  # t1 only
    await auth.pool.execute(
        "UPDATE accounts SET totp_secret = $1, totp_key_id = NULL WHERE client_number = '100001'",
        totp.secret,
    )
    await auth.pool.execute(
        "UPDATE accounts SET totp_secret = $1, totp_key_id = 't1' WHERE client_number = '100002'",
        old.seal(other.secret, "customer:100002").ciphertext,
    )
    assert await seal_stored(auth.pool, TotpVault.parse(TOTP_KEYS)) == 2
    rows = await auth.pool.fetch(
        "SELECT client_number, totp_secret, totp_key_id FROM accounts ORDER BY 1"
    )
    assert [r["totp_key_id"] for r in rows] == ["t2", "t2"]
    assert totp.secret not in rows[0]["totp_secret"]
    assert await seal_stored(auth.pool, TotpVault.parse(TOTP_KEYS)) == 0
    clock.freeze(clock.now() + dt.timedelta(seconds=30))
    assert (await auth.login("100001", PASSWORD, totp_code=totp.at(clock.now())))[0] == 201
    assert (await auth.login("100002", PASSWORD, totp_code=other.at(clock.now())))[0] == 201


async def test_a_reused_totp_code_is_refused_and_audited(auth: Auth) -> None:
    _, totp = await _with_totp(auth)
    clock.freeze(clock.now() + dt.timedelta(seconds=30))
    code = totp.at(clock.now())
    assert (await auth.login("100001", PASSWORD, totp_code=code))[0] == 201
    status, problem = await auth.login("100001", PASSWORD, totp_code=code)
    assert status == 401 and problem["code"] == "invalid-credentials"
    noted = await auth.pool.fetch(
        "SELECT actor, details FROM audit_entries WHERE type = 'totp.replay_refused'"
    )
    assert [(r["actor"], r["details"]["during"]) for r in noted] == [("customer:100001", "login")]


# -- item 12: the audit log append-only, hash-chained, pseudonymous after erasure -------------


async def _activity(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    await auth.client_with_invoice("100002")
    await auth.customer("100001", PASSWORD)
    await auth.customer("100002", PASSWORD)
    await auth.login("100001", "Zle-Haslo-2026!x")
    # The refusal is audited through the bus: wait for its row, so nothing is written to the
    # log while a test below plays the superuser.
    await auth.eventually_audited("access.refused")


async def test_the_application_cannot_change_or_remove_audit_entries(auth: Auth) -> None:
    await _activity(auth)
    for statement in (
        "UPDATE audit_log SET details = '{}'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log CASCADE",  # (plain, the seals' foreign key refuses it first)
        "UPDATE audit_seals SET key_id = 'x'",
        "DELETE FROM audit_seals",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await auth.pool.execute(statement)
    async with auth.pool.acquire() as conn, conn.transaction():  # retention: only old rows
        await conn.execute("SET LOCAL ebok.audit_retention = 'on'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit_log")


async def test_tampering_by_a_superuser_is_detected_by_the_chain(auth: Auth) -> None:
    await _activity(auth)
    assert (await verify_chain(auth.pool, SEAL))["first_broken_id"] is None
    ids = [r["id"] for r in await auth.pool.fetch("SELECT id FROM audit_log ORDER BY id")]
    assert len(ids) > 6
    async with auth.pool.acquire() as conn:  # a superuser can switch the triggers off …
        await conn.execute("SET session_replication_role = replica")
        try:
            await conn.execute("UPDATE audit_log SET ip = '203.0.113.66' WHERE id = $1", ids[3])
            assert (await verify_chain(auth.pool, SEAL))["first_broken_id"] == ids[3]
            await conn.execute("DELETE FROM audit_log WHERE id = $1", ids[3])
            assert (await verify_chain(auth.pool, SEAL))["first_broken_id"] == ids[4]
        finally:
            await conn.execute("SET session_replication_role = DEFAULT")


SEAL = AuditSeal.parse(AUDIT_KEYS)


async def _rebuild_chain_from(conn: asyncpg.Connection, first: int) -> None:
    """What a superuser can do: recompute every SHA-256 hash from row ``first`` on (triggers
    off), so the database's own check finds nothing."""
    rows = await conn.fetch("SELECT id FROM audit_log WHERE id >= $1 ORDER BY id", first)
    for row in rows:
        await conn.execute(
            """UPDATE audit_log a SET
                   prev_hash = (SELECT row_hash FROM audit_log WHERE id < a.id
                                ORDER BY id DESC LIMIT 1),
                   row_hash = audit_row_hash((SELECT row_hash FROM audit_log WHERE id < a.id
                                              ORDER BY id DESC LIMIT 1), a)
                WHERE id = $1""",
            row["id"],
        )


async def test_a_chain_rebuilt_by_a_superuser_is_caught_by_its_seals(
    auth: Auth, database: str
) -> None:
    """Issue 15 item 12, keyed: the SHA-256 chain alone can be recomputed by whoever writes
    the database; the seals (HMAC under EBOK_AUDIT_KEYS, not in the database) cannot."""
    await _activity(auth)
    ids = [r["id"] for r in await auth.pool.fetch("SELECT id FROM audit_log ORDER BY id")]
    sealed = await auth.pool.fetch("SELECT row_id, key_id FROM audit_seals ORDER BY row_id")
    assert [r["row_id"] for r in sealed] == ids  # every row, sealed as it was written
    assert {r["key_id"] for r in sealed} == {"a2"}  # by the first key
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await auth.pool.execute("DELETE FROM audit_seals")
    async with auth.pool.acquire() as conn:
        await conn.execute("SET session_replication_role = replica")
        try:
            await conn.execute("UPDATE audit_log SET ip = '203.0.113.66' WHERE id = $1", ids[3])
            await _rebuild_chain_from(conn, ids[3])
            assert await conn.fetchval("SELECT audit_chain_broken()") is None  # unkeyed: fooled
            checked = await verify_chain(auth.pool, SEAL)
            assert checked["first_broken_id"] == ids[3]
            assert checked["why"] == "its seal does not match (rebuilt without the key)"
            # Dropping the rebuilt rows' seals does not help, nor does a restart (auth seals
            # unsealed rows only while the log has no seal at all).
            await conn.execute("DELETE FROM audit_seals WHERE row_id >= $1", ids[3])
            assert await seal_unsealed(auth.pool, SEAL) == 0
            assert (await verify_chain(auth.pool, SEAL))["why"] == "it has no seal"
        finally:
            await conn.execute("SET session_replication_role = DEFAULT")
    # The command line says so too, and exits 1.
    done = await service_command(
        "auth", "verify-audit", env={"EBOK_DATABASE_URL": database, "EBOK_AUDIT_KEYS": AUDIT_KEYS}
    )
    assert done.code == 1, done
    assert f"audit chain BROKEN at row {ids[3]}: it has no seal" in done.out


async def test_seals_verify_under_an_older_listed_key_and_fail_without_it(auth: Auth) -> None:
    """Rotation: rows sealed with an older key verify while it stays listed."""
    await _activity(auth)
    assert (await verify_chain(auth.pool, SEAL))["first_broken_id"] is None
    only_a1 = AuditSeal.parse(AUDIT_KEYS.split(",")[1])
    checked = await verify_chain(auth.pool, only_a1)
    assert checked["why"] == "its seal's key 'a2' is not in EBOK_AUDIT_KEYS"
    other_a2 = AuditSeal.parse("a2:" + base64.b64encode(b"\x13" * 32).decode())
    assert (await verify_chain(auth.pool, other_a2))["why"] == (
        "its seal does not match (rebuilt without the key)"
    )


async def test_rows_from_before_the_seals_are_sealed_once_if_their_chain_holds(
    auth: Auth,
) -> None:
    """Migration 0005: rows written before it have no seal; the first start with keys seals
    them — but not a chain that is already broken."""
    await _activity(auth)
    async with auth.pool.acquire() as conn:  # as before 0005: no seal at all
        await conn.execute("SET session_replication_role = replica")
        try:
            await conn.execute("DELETE FROM audit_seals")
            assert (await verify_chain(auth.pool, SEAL))["why"] == "it has no seal"
            first = await conn.fetchval("SELECT min(id) FROM audit_log")
            await conn.execute("UPDATE audit_log SET ip = 'x' WHERE id = $1", first)
            assert await seal_unsealed(auth.pool, SEAL) == 0  # a broken chain stays unsealed
            await conn.execute("DELETE FROM audit_log WHERE id = $1", first)
        finally:
            await conn.execute("SET session_replication_role = DEFAULT")
    count = await auth.pool.fetchval("SELECT count(*) FROM audit_log")
    assert await seal_unsealed(auth.pool, SEAL) == count > 0
    assert (await verify_chain(auth.pool, SEAL))["first_broken_id"] is None
    assert await seal_unsealed(auth.pool, SEAL) == 0  # once


async def test_retention_removes_only_old_entries_and_the_rest_still_verifies(
    auth: Auth,
) -> None:
    now = clock.now()
    clock.freeze(now - dt.timedelta(days=400))
    await auth.client_with_invoice("100001")
    await auth.login("100001", "Zle-Haslo-2026!x")
    await auth.eventually_audited("access.refused")  # the refusal's row, written via the bus
    old = await auth.pool.fetchval("SELECT count(*) FROM audit_log")
    clock.freeze(now)
    await auth.login("100001", "Zle-Haslo-2026!x")
    await eventually(  # this refusal's row too (a new minute for the per-minute limit)
        lambda: auth.pool.fetchval(
            "SELECT count(*) = 2 FROM audit_log WHERE type = 'access.refused'"
        ),
        "the second refusal audited",
    )
    await prune_audit(auth.pool, now - dt.timedelta(days=365))
    kept = await auth.pool.fetch("SELECT type FROM audit_log ORDER BY id")
    assert old >= 2 and [r["type"] for r in kept] == ["login.failed", "access.refused"], kept
    assert (await verify_chain(auth.pool, SEAL))["first_broken_id"] is None


async def test_after_erasure_the_audit_log_holds_a_pseudonym_not_the_client_number(
    auth: Auth,
) -> None:
    await _activity(auth)
    admin = await auth.operator(roles=("customer_service",))
    status, log = await auth.call(
        "GET", "/operator/audit?subject=100001&limit=100", token=admin["access_token"]
    )
    assert status == 200 and log["items"], "clear while the account exists"
    assert {e["subject"] for e in log["items"]} == {"100001"}
    status, _ = await auth.call(
        "DELETE",
        "/me",
        token=(await auth.login("100001", PASSWORD))[1]["access_token"],
        json_body={"current_password": PASSWORD, "confirm": True},
    )
    assert status == 200
    kept = await auth.pool.fetch("SELECT * FROM audit_log")
    assert "100001" not in str([dict(r) for r in kept])  # rows, actors, details
    assert "100002" in str(await auth.pool.fetch("SELECT * FROM audit_entries"))
    deleted = [r for r in kept if r["type"] == "account.deleted"]
    assert len(deleted) == 1 and deleted[0]["subject"].startswith("ps-")
    assert deleted[0]["actor"] == "customer:" + deleted[0]["subject"]
    status, log = await auth.call(
        "GET", "/operator/audit?subject=100001&limit=100", token=admin["access_token"]
    )
    assert log["items"] == []
    assert (await verify_chain(auth.pool, SEAL))["first_broken_id"] is None


async def test_actors_and_subjects_each_get_their_own_pseudonym(auth: Auth) -> None:
    """The insert trigger looks a pseudonym up once when the actor is the subject (every
    login, migration 0006); any other actor still gets its own."""
    written = [
        ("customer:100001", "100001"),  # the actor is the subject
        ("operator:admin7", "100001"),  # someone else about them
        ("customer:100002", None),  # an actor with no subject
        ("system", "100003"),
        ("operator:admin7", "admin7"),
    ]
    async with auth.pool.acquire() as conn:
        written_rows = conn.transaction()  # rolled back: rows with no seal are never kept
        await written_rows.start()
        for actor, subject in written:
            await conn.execute(
                "INSERT INTO audit_log (occurred_at, type, actor, subject)"
                " VALUES (now(), 't', $1, $2)",
                actor,
                subject,
            )
        stored = await conn.fetch(
            "SELECT actor, subject FROM audit_log WHERE type = 't' ORDER BY id"
        )
        shown = await conn.fetch(
            "SELECT actor, subject FROM audit_entries WHERE type = 't' ORDER BY id"
        )
        links = dict(await conn.fetch("SELECT subject, pseudonym FROM audit_subjects"))
        await written_rows.rollback()
    assert [tuple(r) for r in shown] == written
    assert "100001" not in str([tuple(r) for r in stored]) and "admin7" not in str(stored)
    assert [tuple(r) for r in stored] == [
        ("customer:" + links["100001"], links["100001"]),
        ("operator:" + links["admin7"], links["100001"]),
        ("customer:" + links["100002"], None),
        ("system", links["100003"]),
        ("operator:" + links["admin7"], links["admin7"]),
    ]
    assert len({links[k] for k in ("100001", "100002", "100003", "admin7")}) == 4


# -- item 16: limits keyed by the client number do not let anyone deny the customer ----------


async def test_a_lockout_from_elsewhere_does_not_keep_the_customer_out(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    await auth.customer("100001", PASSWORD)
    for attempt in range(5):
        await auth.login("100001", f"Zle-Haslo-{attempt}1", ip="192.0.2.66")
    await auth.tap.payload("auth.account.locked", client_number="100001")
    # The attacker's address stays locked out, even with the right password …
    assert (await auth.login("100001", PASSWORD, ip="192.0.2.66"))[0] == 401
    # … the customer, from an address that did not fail, gets in with the right password.
    assert (await auth.login("100001", PASSWORD, ip="198.51.100.7"))[0] == 201
    # Every address gets one wrong try during a lock; then it is bound by the lock too.
    for _ in range(5):
        await auth.login("100001", "Zle-Haslo-99", ip="192.0.2.66")
    assert (await auth.login("100001", "Zle-Haslo-98", ip="192.0.2.77"))[0] == 401
    assert (await auth.login("100001", PASSWORD, ip="192.0.2.77"))[0] == 401


async def test_registration_attempts_from_elsewhere_leave_the_client_its_own(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    bogus = [(await auth.register("100001", gross="1,00", ip="192.0.2.66"))[0] for _ in range(7)]
    assert bogus[-2:] == [429, 429]
    assert (await auth.register("100001", ip="198.51.100.7"))[0] == 202
    registered = await auth.tap.payload("auth.account.registered", client_number="100001")
    assert registered["email"] == "jan@example.pl"


async def test_reset_requests_from_elsewhere_never_deny_the_customer_a_reset(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    await auth.customer("100001", PASSWORD)
    for i in range(8):  # from many addresses: the same answer, but at most 5 e-mails
        status, _ = await auth.call(
            "POST", "/password-resets", json_body={"login": "100001"}, ip=f"192.0.2.{i + 1}"
        )
        assert status == 202
    own, _ = await auth.call(
        "POST", "/password-resets", json_body={"login": "100001"}, ip="198.51.100.7"
    )
    assert own == 202  # not refused
    sent = [
        e.payload
        for e in await auth.tap.wait_for("auth.password_reset.requested", 5, client_number="100001")
    ]
    await auth.eventually_audited("password_reset.not_sent")
    assert len(auth.tap.of("auth.password_reset.requested")) == 5
    status, _ = await auth.call(
        "POST",
        "/password-resets/confirm",
        json_body={"token": sent[-1]["token"], "new_password": "Nowe-Haslo-2027"},
    )
    assert status == 200  # a link the customer already has works


# -- item 5: what erasure keeps is stated, with its legal basis and date ---------------------


async def test_the_deletion_terms_state_what_is_erased_and_what_is_kept_by_law(
    auth: Auth,
) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    status, terms = await auth.call("GET", "/me/deletion", token=tokens["access_token"])
    assert status == 200
    assert any("niepotwierdzony" in item for item in terms["deleted_now"])
    assert any("dzienniku wysłanych wiadomości" in item for item in terms["deleted_now"])
    [e_invoice] = [k for k in terms["kept"] if "adres do e-faktur" in k["data"]]
    assert "art. 112" in e_invoice["legal_basis"]
    assert dt.date.fromisoformat(e_invoice["until"]) > clock.today()
    [audit] = [k for k in terms["kept"] if "dziennik zdarzeń" in k["data"]]
    assert "pseudonimem" in audit["data"]


async def test_auth_does_not_serve_without_its_totp_keys(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    with pytest.raises(ConfigError, match="EBOK_TOTP_KEYS"):
        async with running_auth(database, amqp_url, bus_prefix, totp_keys=None):
            pass


# -- item 15: addresses the notifier would refuse are refused at input -----------------------


@pytest.mark.parametrize("address", ['"jan kowalski"@example.pl', "<b>jan</b>@example.pl"])
async def test_addresses_the_notifier_would_refuse_are_not_taken_in(
    auth: Auth, address: str
) -> None:
    await auth.client_with_invoice("100001")
    status, problem = await auth.register("100001", email=address)
    assert status == 422 and problem["errors"][0]["field"] == "email"
    tokens = await auth.customer("100001", PASSWORD)
    status, problem = await auth.call(
        "POST",
        "/me/email-change",
        token=tokens["access_token"],
        json_body={"email": address, "current_password": PASSWORD},
    )
    assert status == 422 and problem["errors"][0]["field"] == "email"
