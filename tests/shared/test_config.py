"""Settings from ``EBOK_*`` variables: one clear line naming the variable, secrets hidden."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from ebok_shared.config import ConfigError, Secret, Settings
from ebok_shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
DSN = "postgresql://postgres@127.0.0.1:5432/x"


@dataclass(frozen=True, kw_only=True)
class ExampleSettings(Settings):
    name: str
    workers: int = 4
    verbose: bool = False
    ratio: float = 0.5
    api_key: Secret = Secret("")  # noqa: RUF009  (immutable, like a str)
    delays: tuple[float, ...] = (1.0,)
    limit: int | None = None


def _error(env: dict[str, str], cls: type[Settings] = ExampleSettings) -> str:
    with pytest.raises(ConfigError) as caught:
        cls.from_env(env)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_values_are_parsed_by_type() -> None:
    settings = ExampleSettings.from_env(
        {
            "EBOK_NAME": "billing",
            "EBOK_WORKERS": "12",
            "EBOK_VERBOSE": "yes",
            "EBOK_RATIO": "0.25",
            "EBOK_API_KEY": "s3cr3t",
            "EBOK_DELAYS": "1, 10,60",
            "EBOK_LIMIT": "",
        }
    )
    assert settings == ExampleSettings(
        name="billing",
        workers=12,
        verbose=True,
        ratio=0.25,
        api_key=Secret("s3cr3t"),
        delays=(1.0, 10.0, 60.0),
        limit=None,
    )
    assert isinstance(settings.api_key, Secret)
    assert ExampleSettings.from_env({"EBOK_NAME": "x", "EBOK_VERBOSE": "OFF"}).verbose is False
    assert ExampleSettings.from_env({"EBOK_NAME": "x", "EBOK_LIMIT": "7"}).limit == 7


def test_missing_required_variable_names_it() -> None:
    assert _error({"EBOK_WORKERS": "3"}) == "EBOK_NAME: required environment variable is not set"


@pytest.mark.parametrize(
    ("variable", "raw", "expected"),
    [
        ("EBOK_WORKERS", "four", "EBOK_WORKERS: expected int, got 'four'"),
        ("EBOK_WORKERS", "", "EBOK_WORKERS: expected int, got ''"),
        ("EBOK_VERBOSE", "maybe", "EBOK_VERBOSE: expected true/false, got 'maybe'"),
        ("EBOK_RATIO", "half", "EBOK_RATIO: expected float, got 'half'"),
        ("EBOK_DELAYS", "1,soon", "EBOK_DELAYS: expected float, got 'soon'"),
        ("EBOK_LIMIT", "many", "EBOK_LIMIT: expected int, got 'many'"),
    ],
)
def test_invalid_value_names_the_variable(variable: str, raw: str, expected: str) -> None:
    assert _error({"EBOK_NAME": "x", variable: raw}) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"EBOK_DATABASE_URL": "mysql://x"}, "EBOK_DATABASE_URL: expected a postgresql:// URL"),
        (
            {"EBOK_DATABASE_URL": DSN, "EBOK_AMQP_URL": "http://x"},
            "EBOK_AMQP_URL: expected an amqp:// or amqps:// URL",
        ),
        (
            {"EBOK_DATABASE_URL": DSN, "EBOK_HTTP_PORT": "70000"},
            "EBOK_HTTP_PORT: expected a port number 1-65535",
        ),
        (
            {"EBOK_DATABASE_URL": DSN, "EBOK_LOG_LEVEL": "LOUD"},
            "EBOK_LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR",
        ),
        (
            {"EBOK_DATABASE_URL": DSN, "EBOK_DB_POOL_MIN": "5", "EBOK_DB_POOL_MAX": "3"},
            "EBOK_DB_POOL_MIN: expected 0 to EBOK_DB_POOL_MAX (at least 1)",
        ),
    ],
)
def test_service_settings_cross_checks_name_the_variable(
    env: dict[str, str], expected: str
) -> None:
    assert _error(env, ServiceSettings) == expected


def test_overrides_win_over_the_environment() -> None:
    settings = ServiceSettings.from_env({"EBOK_DATABASE_URL": "nope"}, database_url=DSN)
    assert settings.database_url == DSN


def test_secret_never_shows_in_repr() -> None:
    settings = ExampleSettings.from_env({"EBOK_NAME": "x", "EBOK_API_KEY": "hunter2"})
    assert "hunter2" not in repr(settings.api_key)
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in repr({"key": settings.api_key})
    assert settings.api_key.reveal() == "hunter2"
    assert settings.api_key == "hunter2"  # still usable as the string it is


ENTRY_POINT_RUNS = {  # module to run, its environment
    "billing without database url": ("ebok_billing", {}),
    "probe with invalid port": (
        "tests.support.probe_service",
        {"EBOK_DATABASE_URL": DSN, "EBOK_HTTP_PORT": "80a"},
    ),
}
Runs = dict[str, tuple[int, str, str]]


@pytest.fixture(scope="module")
def entry_point() -> Runs:
    """The real entry points (``python -m …``) under each environment above, side by side."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("EBOK_")}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env={**base, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (module, extra) in ENTRY_POINT_RUNS.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = (proc.returncode, out, err)
    return results


def test_entry_point_without_database_url_exits_2_with_one_line(entry_point: Runs) -> None:
    code, out, err = entry_point["billing without database url"]
    assert code == 2
    assert err.splitlines() == [
        "ebok-billing: configuration error: "
        "EBOK_DATABASE_URL: required environment variable is not set"
    ]
    assert out == ""


def test_entry_point_with_invalid_port_exits_2_with_one_line(entry_point: Runs) -> None:
    code, out, err = entry_point["probe with invalid port"]
    assert code == 2
    assert err.splitlines() == [
        "ebok-probe: configuration error: EBOK_HTTP_PORT: expected int, got '80a'"
    ]
    assert out == ""
