"""The event catalogue table of docs/architecture.md, made from the services' real
subscriptions and back-office bindings: ``python -m tools.event_table`` prints it (a test
checks the document holds exactly this)."""

from __future__ import annotations

import importlib

from aiohttp import web
from ebok_shared.bus import default_catalogue
from ebok_shared.service import SPEC, ServiceSpec
from ebok_shared.settings import ServiceSettings

SERVICES = ("auth", "billing", "readings", "correspondence", "notifier", "gateway")


def spec_as_run(service: str) -> ServiceSpec:
    """The spec a service really runs with (some subscriptions depend on its settings)."""
    return app_as_run(service)[SPEC]


def app_as_run(service: str) -> web.Application:
    """The app a service really runs (built by its own factory, not started)."""
    app_module = importlib.import_module(f"ebok_{service}.app")
    settings = settings_type(service).from_env(
        {}, database_url="postgresql://nobody@127.0.0.1/none"
    )
    app: web.Application = app_module.create_app(settings)
    return app


def settings_type(service: str) -> type[ServiceSettings]:
    """The service's settings class (the one ``*Settings`` of its settings module)."""
    settings_module = importlib.import_module(f"ebok_{service}.settings")
    found: type[ServiceSettings] = next(
        value
        for name, value in vars(settings_module).items()
        if name.endswith("Settings") and name != "ServiceSettings"
    )
    return found


def consumers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for service in SERVICES:
        spec = spec_as_run(service)
        for sub in spec.subscriptions:
            found.setdefault(sub.event_type, []).append(service)
        for event_type in spec.backoffice_events:
            found.setdefault(event_type, []).append("the back office")
    return found


def table() -> str:
    taken = consumers()
    rows = ["| event (v1) | published by | consumed by |", "| --- | --- | --- |"]
    for event_type, _version in sorted(default_catalogue().schemas):
        by = ", ".join(sorted(taken.get(event_type, []))) or "**nobody (holds the outbox)**"
        prefix = event_type.split(".")[0]
        publisher = "every service" if prefix == "security" else prefix  # refusal_audit
        rows.append(f"| `{event_type}` | {publisher} | {by} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(table(), end="")
