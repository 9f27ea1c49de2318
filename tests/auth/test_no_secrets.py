"""No password, token or secret ever in the logs or the audit log: the real process at DEBUG
level goes through every flow that handles one, then its whole output is searched."""

from __future__ import annotations

import aiohttp
from ebok_auth.app import SPEC
from ebok_shared import db

from tests.auth.harness import AUDIT_KEYS, TOTP_KEYS, AuthProcess, settings_for
from tests.support.process import service_process
from tests.support.service import service_bus


async def test_secrets_never_reach_logs_or_audit(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    env = {
        "EBOK_DATABASE_URL": database,
        "EBOK_AMQP_URL": amqp_url,
        "EBOK_BUS_PREFIX": bus_prefix,
        "EBOK_LOG_LEVEL": "DEBUG",
        "EBOK_ARGON2_MEMORY_KIB": "1024",
        "EBOK_ARGON2_TIME_COST": "1",
        "EBOK_ALLOW_WEAK_HASHING": "true",
        "EBOK_RETRY_DELAYS": "0.2",
        "EBOK_TOTP_KEYS": TOTP_KEYS,
        "EBOK_AUDIT_KEYS": AUDIT_KEYS,
    }
    secrets: list[str] = []
    settings = settings_for(database, amqp_url, bus_prefix)
    async with (
        service_bus(settings, SPEC, tap=["auth"]) as (connection, tap),
        service_process("auth", env) as proc,
    ):
        pool = await db.create_pool(database, min_size=1, max_size=2)
        try:
            async with aiohttp.ClientSession(base_url=proc.url) as http:
                # The helpers of the in-process harness, over HTTP to the real process.
                auth = AuthProcess(http, settings, connection, None, tap, own_pool=pool)  # type: ignore[arg-type]  # a ClientSession where a TestClient is typed: both request(method, path)
                await auth.client_with_invoice("100001")
                initial = await auth.activated_account("100001")
                activation = (await auth.tap.payload("auth.account.registered"))["activation_token"]
                status, first = await auth.login("100001", initial)
                assert status == 201
                status, tokens = await auth.call(
                    "PUT",
                    "/me/password",
                    token=first["access_token"],
                    json_body={"current_password": initial, "new_password": "Tajne-Haslo-2026"},
                )
                assert status == 200
                await auth.login("100001", "Bledne-Haslo-77")
                status, refreshed = await auth.call(
                    "POST",
                    "/sessions/refresh",
                    json_body={"refresh_token": tokens["refresh_token"]},
                )
                assert status == 200
                await auth.call("POST", "/password-resets", json_body={"login": "100001"})
                reset = (await auth.tap.payload("auth.password_reset.requested"))["token"]
                await auth.call(
                    "POST",
                    "/password-resets/confirm",
                    json_body={"token": reset, "new_password": "Zresetowane-Haslo-9"},
                )
                secrets = [
                    initial,
                    activation,
                    reset,
                    "Tajne-Haslo-2026",
                    "Bledne-Haslo-77",
                    "Zresetowane-Haslo-9",
                    first["access_token"],
                    first["refresh_token"],
                    tokens["refresh_token"],
                    refreshed["refresh_token"],
                    refreshed["access_token"],
                    *TOTP_KEYS.replace(",", ":").split(":")[1::2],  # the TOTP encryption keys
                    *AUDIT_KEYS.replace(",", ":").split(":")[1::2],  # the audit seal keys
                ]
                audit_text = str(await pool.fetch("SELECT * FROM audit_log"))
        finally:
            await pool.close()
    log_text = "".join(proc.output)
    assert '"session started"' in log_text  # DEBUG output was there to search
    assert "login.failed" in audit_text
    for secret in secrets:
        assert secret not in log_text
        assert secret not in audit_text
