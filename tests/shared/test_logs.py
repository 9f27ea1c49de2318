"""Logs are JSON lines carrying the service and correlation id, with secrets masked."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
import structlog
from ebok_shared import logs
from ebok_shared.config import Secret

from tests.support.logcapture import Captured


def test_every_line_is_a_json_object(captured: Captured) -> None:
    log = logs.get_logger("test.logs")
    log.info("invoice issued", invoice_number="10000126010001", amount=108)
    log.warning("slow query", ms=1500)
    first, second = captured.lines()
    assert first["event"] == "invoice issued"
    assert first["level"] == "info"
    assert first["service"] == "probe"
    assert first["invoice_number"] == "10000126010001" and first["amount"] == 108
    assert dt.datetime.fromisoformat(first["timestamp"]).utcoffset() == dt.timedelta(0)
    assert second["level"] == "warning" and second["ms"] == 1500


def test_level_filters_lines(captured: Captured) -> None:
    captured.configure("WARNING")
    log = logs.get_logger("test.logs")
    log.info("not shown")
    log.error("shown")
    assert [line["event"] for line in captured.lines()] == ["shown"]


def test_exception_is_rendered_inside_the_json_line(captured: Captured) -> None:
    log = logs.get_logger("test.logs")
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("failed")
    (line,) = captured.lines()
    assert line["event"] == "failed"
    assert "ValueError: broken" in line["exception"]


def test_correlation_id_is_bound(captured: Captured) -> None:
    log = logs.get_logger("test.logs")
    logs.correlation_id_var.set("req-42")
    log.info("inside a request")
    with structlog.contextvars.bound_contextvars(event_id="ev-1"):
        log.info("handling an event")
    logs.correlation_id_var.set(None)
    log.info("outside")
    inside, handling, outside = captured.lines()
    assert inside["correlation_id"] == "req-42"
    assert handling["correlation_id"] == "req-42" and handling["event_id"] == "ev-1"
    assert "correlation_id" not in outside and "event_id" not in outside


def test_standard_library_loggers_share_the_format(captured: Captured) -> None:
    logs.correlation_id_var.set("req-7")
    logging.getLogger("aiohttp.server").warning("Error handling request from %s", "10.0.0.1")
    (line,) = captured.lines()
    assert line["event"] == "Error handling request from 10.0.0.1"
    assert line["level"] == "warning"
    assert line["correlation_id"] == "req-7"
    assert line["service"] == "probe"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "secret",
        "otp",
        "code",
        "Authorization",
        "PASSWORD",
        "db_password",
        "api_token",
        "client_secret",
        "x-api-key",
        "cookie",
    ],
)
def test_secret_named_keys_are_redacted(captured: Captured, key: str) -> None:
    logs.get_logger("test.logs").info("login", **{key: "hunter2", "login": "100001"})
    (line,) = captured.lines()
    assert line[key] == "***"
    assert line["login"] == "100001"


def test_secrets_are_redacted_at_any_depth_and_not_in_the_callers_data(captured: Captured) -> None:
    body = {"login": "100001", "password": "hunter2", "nested": [{"Token": "abc"}]}
    headers = {"Authorization": "Bearer eyJ", "Accept": "application/json"}
    logs.get_logger("test.logs").info("request", body=body, headers=headers)
    (line,) = captured.lines()
    assert line["body"] == {"login": "100001", "password": "***", "nested": [{"Token": "***"}]}
    assert line["headers"] == {"Authorization": "***", "Accept": "application/json"}
    assert body["password"] == "hunter2"  # the caller's dict is left as it was


def test_secret_values_are_masked_whatever_the_key(captured: Captured) -> None:
    logs.get_logger("test.logs").info("connecting", dsn=Secret("postgresql://u:pw@db/x"))
    logging.getLogger("asyncpg").warning("retrying", extra={"password": "hunter2"})
    first, second = captured.lines()
    assert first["dsn"] == "***"
    assert "hunter2" not in json.dumps(second)


def test_non_secret_keys_are_kept(captured: Captured) -> None:
    logs.get_logger("test.logs").info("token refused", reason="expired", token_type="access")
    (line,) = captured.lines()
    assert line["event"] == "token refused"
    assert line["reason"] == "expired" and line["token_type"] == "access"
