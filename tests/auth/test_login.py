"""Login, sessions and brute force: enumeration, lockout, IP throttling, refresh rotation
and reuse, logout, password change, idle timeout."""

from __future__ import annotations

import datetime as dt

from ebok_shared.clock import clock

from tests.auth.harness import Auth

PASSWORD = "Kropla-Deszczu-2026!x"


def _same(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "correlation_id"}


async def _account(auth: Auth, number: str = "100001") -> dict:
    await auth.client_with_invoice(number)
    return await auth.customer(number, PASSWORD)


async def test_same_answer_for_unknown_login_wrong_password_and_locked_account(auth: Auth) -> None:
    await _account(auth, "100001")
    await _account(auth, "100002")
    for _ in range(5):  # lock 100002
        await auth.login("100002", "Zle-haslo-1", ip="192.0.2.50")
    unknown = await auth.login("999999", PASSWORD, ip="192.0.2.1")
    wrong = await auth.login("100001", "Zle-haslo-1", ip="192.0.2.2")
    locked = await auth.login("100002", PASSWORD, ip="192.0.2.50")  # right password, locked
    assert unknown[0] == wrong[0] == locked[0] == 401
    assert _same(unknown[1]) == _same(wrong[1]) == _same(locked[1])
    assert unknown[1]["code"] == "invalid-credentials"


async def test_progressive_lockout_lifts_by_itself_and_is_audited_and_mailed(auth: Auth) -> None:
    await _account(auth, "100001")
    clock.freeze(clock.now())
    for attempt in range(4):
        assert (await auth.login("100001", f"Zle-haslo-{attempt}", ip="192.0.2.10"))[0] == 401
    assert (await auth.login("100001", PASSWORD))[0] == 201  # success resets the count
    lock_durations: list[dt.timedelta] = []
    for _round in range(2):
        started = clock.now()
        for attempt in range(5):
            assert (await auth.login("100001", f"Zle-haslo-{attempt}", ip="192.0.2.10"))[0] == 401
        locked = (await auth.tap.wait_for("auth.account.locked", len(lock_durations) + 1))[
            -1
        ].payload
        assert locked["email"] == "jan@example.pl"
        until = dt.datetime.fromisoformat(locked["until"])
        lock_durations.append(until - started)
        # The right password is refused (with the usual answer) from the address that failed,
        # until the lock lifts by itself.
        clock.freeze(until - dt.timedelta(seconds=1))
        assert (await auth.login("100001", PASSWORD, ip="192.0.2.10"))[0] == 401
        clock.freeze(until + dt.timedelta(seconds=1))
    assert lock_durations == [dt.timedelta(seconds=60), dt.timedelta(seconds=120)]
    status, session = await auth.login("100001", PASSWORD)
    assert status == 201, session
    audited = await auth.pool.fetch(
        "SELECT details->>'until' AS until FROM audit_entries WHERE type = 'account.locked'"
        " AND subject = '100001' ORDER BY id"
    )
    assert len(audited) == 2


async def test_a_lock_binds_the_failing_address_after_the_window_it_began_in(
    auth: Auth,
) -> None:
    """The failures counted per address fall in fixed windows; a lock that began in the last
    seconds of one still binds that address in the next (it once let the right password in)."""
    await _account(auth, "100001")
    window = auth.settings.ip_window_seconds
    boundary = (int(clock.now().timestamp()) // window + 1) * window
    clock.freeze(dt.datetime.fromtimestamp(boundary - 5, dt.UTC))
    for attempt in range(5):
        assert (await auth.login("100001", f"Zle-haslo-{attempt}", ip="192.0.2.11"))[0] == 401
    clock.freeze(dt.datetime.fromtimestamp(boundary + 30, dt.UTC))  # locked for 60 s
    assert (await auth.login("100001", PASSWORD, ip="192.0.2.11"))[0] == 401
    assert (await auth.login("100001", PASSWORD, ip="192.0.2.12"))[0] == 201  # not elsewhere


async def test_failures_from_one_ip_are_throttled_across_accounts(auth: Auth) -> None:
    await _account(auth, "100001")
    statuses = [
        (await auth.login(f"3000{i:02d}", "Zle-haslo-1", ip="192.0.2.66"))[0] for i in range(32)
    ]
    assert statuses[:30] == [401] * 30 and statuses[30:] == [429, 429]
    status, problem = await auth.login("100001", PASSWORD, ip="192.0.2.66")
    assert status == 429 and problem["code"] == "rate-limited"
    status, _ = await auth.login("100001", PASSWORD, ip="192.0.2.67")  # another IP is fine
    assert status == 201


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(auth: Auth) -> None:
    first = await _account(auth)
    status, second = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": first["refresh_token"]}
    )
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    status, third = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": second["refresh_token"]}
    )
    assert status == 200
    # The spent first token comes back (stolen): the family is revoked.
    status, problem = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": first["refresh_token"]}
    )
    assert status == 401 and problem["code"] == "invalid-refresh-token"
    status, _ = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": third["refresh_token"]}
    )
    assert status == 401
    status, problem = await auth.call("GET", "/me", token=third["access_token"])
    # Refused by auth's own look at the session, or earlier by the revocation list when its
    # notification arrived first (the machine's load decides which comes first).
    assert status == 401 and problem["code"] in {"session-ended", "session-revoked"}
    assert (
        await auth.pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE type = 'session.refresh_reused'"
        )
        == 1
    )


async def test_logout_revokes_and_password_change_ends_other_sessions(auth: Auth) -> None:
    one = await _account(auth)
    status, two = await auth.login("100001", PASSWORD)
    assert status == 201
    status, three = await auth.login("100001", PASSWORD)
    assert status == 201
    status, _ = await auth.call("DELETE", "/sessions/current", token=three["access_token"])
    assert status == 204
    assert (
        await auth.call(
            "POST", "/sessions/refresh", json_body={"refresh_token": three["refresh_token"]}
        )
    )[0] == 401
    assert (await auth.call("GET", "/me", token=three["access_token"]))[0] == 401

    status, changed = await auth.call(
        "PUT",
        "/me/password",
        token=two["access_token"],
        json_body={"current_password": PASSWORD, "new_password": "Nowe-Haslo-2027"},
    )
    assert status == 200
    assert (await auth.call("GET", "/me", token=one["access_token"]))[0] == 401
    assert (
        await auth.call(
            "POST", "/sessions/refresh", json_body={"refresh_token": one["refresh_token"]}
        )
    )[0] == 401
    assert (await auth.call("GET", "/me", token=changed["access_token"]))[0] == 200
    assert (
        await auth.call(
            "POST", "/sessions/refresh", json_body={"refresh_token": changed["refresh_token"]}
        )
    )[0] == 200


async def test_wrong_current_password_is_refused_and_counts_toward_lockout(auth: Auth) -> None:
    tokens = await _account(auth)
    status, problem = await auth.call(
        "PUT",
        "/me/password",
        token=tokens["access_token"],
        json_body={"current_password": "Zle-haslo-1", "new_password": "Nowe-Haslo-2027"},
    )
    assert status == 422 and problem["errors"][0]["field"] == "current_password"
    assert await auth.pool.fetchval("SELECT failures FROM login_failures") == 1


async def test_session_ends_after_30_idle_minutes_and_12_hours(auth: Auth) -> None:
    tokens = await _account(auth)
    clock.freeze(clock.now() + dt.timedelta(minutes=29))
    status, tokens = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": tokens["refresh_token"]}
    )
    assert status == 200
    clock.advance(dt.timedelta(minutes=31))
    status, _ = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": tokens["refresh_token"]}
    )
    assert status == 401

    status, tokens = await auth.login("100001", PASSWORD)
    assert status == 201
    for _ in range(25):  # kept busy, yet 12 hours is the most a session lives
        clock.advance(dt.timedelta(minutes=29))
        status, fresh = await auth.call(
            "POST", "/sessions/refresh", json_body={"refresh_token": tokens["refresh_token"]}
        )
        if status != 200:
            break
        tokens = fresh
    assert status == 401
    assert 24 <= _ <= 25  # 12 h / 29 min


async def test_idempotency_key_never_stores_tokens(auth: Auth) -> None:
    await _account(auth)
    status, _ = await auth.call(
        "POST",
        "/sessions",
        headers={"Idempotency-Key": "k-1"},
        json_body={"login": "100001", "password": PASSWORD},
    )
    assert status == 201
    assert await auth.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_the_generated_password_cannot_be_changed_to_itself(auth: Auth) -> None:
    """Issue #14 (1): the first login's restriction is lifted only by a new password."""
    await auth.client_with_invoice("100001")
    initial = await auth.activated_account("100001")
    status, first = await auth.login("100001", initial)
    assert status == 201 and first["password_change_required"], first
    status, problem = await auth.call(
        "PUT",
        "/me/password",
        token=first["access_token"],
        json_body={"current_password": initial, "new_password": initial},
    )
    assert status == 422, problem
    assert problem["code"] == "password-unchanged"
    assert problem["errors"] == [
        {"field": "new_password", "reason": "nowe hasło musi się różnić od obecnego"}
    ]
    status, again = await auth.login("100001", initial)
    assert status == 201 and again["password_change_required"], again  # still restricted
