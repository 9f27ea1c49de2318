"""Rules that hold across the whole platform, checked on the real service definitions."""

from __future__ import annotations

from pathlib import Path

import pytest
from ebok_shared.bus import default_catalogue
from ebok_shared.service import ServiceSpec

from tools.event_table import SERVICES, spec_as_run, table

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def specs() -> dict[str, ServiceSpec]:
    return {service: spec_as_run(service) for service in SERVICES}


def test_every_event_in_the_catalogue_has_a_queue(specs: dict[str, ServiceSpec]) -> None:
    """The relay publishes with ``mandatory``: an event no queue takes holds the outbox, so
    each event type needs a consumer or the back office's inbox."""
    taken = {s.event_type for spec in specs.values() for s in spec.subscriptions}
    taken |= {e for spec in specs.values() for e in spec.backoffice_events}
    catalogued = {event_type for event_type, _ in default_catalogue().schemas}
    assert catalogued - taken == set()


def test_every_consumed_event_is_catalogued(specs: dict[str, ServiceSpec]) -> None:
    catalogue = default_catalogue()
    for service, spec in specs.items():
        for sub in spec.subscriptions:
            assert catalogue.knows(sub.event_type, sub.version), (service, sub.event_type)
        for event_type in spec.backoffice_events:
            assert event_type.startswith(f"{service}."), (service, event_type)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_rooms(service: str) -> None:
    package = (
        ROOT
        / ("gateway" if service == "gateway" else f"services/{service}")
        / "src"
        / f"ebok_{service}"
    )
    for room in ("__main__.py", "settings.py", "app.py", "events.py"):
        assert (package / room).is_file(), f"{service}: {room}"
    assert list(package.glob("http_*.py")), f"{service}: app.py and at least one http_*.py"
    assert list((package / "migrations").glob("0001_*.sql")), f"{service}: migrations"


def test_the_architecture_document_shows_the_real_event_catalogue() -> None:
    document = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    assert table() in document, "docs/architecture.md: run python -m tools.event_table"
