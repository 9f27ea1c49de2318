"""The component diagram of docs/architecture.md, made from the code: the components and
their databases, who calls whom over HTTP (each component's ``<component>_url`` settings),
who verifies tokens with auth's keys (``jwks_url``), Redis, the SMTP relay and PayU (the
settings that name them), the back office's feeds (the services' ``/operator/feed`` routes)
and every event edge (the catalogue, each service's subscriptions and back-office bindings,
as in tools.event_table). Only the people and the ingress in front are written here.

``python -m tools.flowchart`` writes the diagram between its markers in the document;
``--check`` only says whether the document holds it (a test checks that too)."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections import defaultdict
from pathlib import Path

from ebok_shared.bus import default_catalogue

from tools.event_table import SERVICES, app_as_run, consumers, settings_type

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
BEGIN = "<!-- flowchart: made by python -m tools.flowchart from the code; do not edit -->"
END = "<!-- /flowchart -->"
COMPONENTS = ("web", *SERVICES)
BACK_OFFICE = "the back office"
LISTED = 3  # an event edge names its events up to this many, then counts them
# What each component is, in a word (the node's second line).
ROLES = {"web": "the customer portal", "gateway": "the one public API"}


def fields(component: str) -> dict[str, object]:
    """A component's settings fields with their defaults (web's settings are not a
    service's: found by the same naming rule)."""
    if component == "web":
        cls: type = importlib.import_module("ebok_web.settings").WebSettings
    else:
        cls = settings_type(component)
    return {f.name: f.default for f in dataclasses.fields(cls)}


def event_edges() -> dict[tuple[str, str], list[str]]:
    """(producer, consumer) → the events of that producer the consumer takes in."""
    taken = consumers()
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for event_type, _version in sorted(default_catalogue().schemas):
        prefix, name = event_type.split(".", 1)
        # security.* events are written by every component (ebok_shared's refusal audit)
        producers = list(SERVICES) if prefix == "security" else [prefix]
        for consumer in taken.get(event_type, []):
            target = "backoffice" if consumer == BACK_OFFICE else consumer
            for producer in producers:
                if producer != target:  # a service consuming its own events: no edge
                    edges[(producer, target)].append(event_type if prefix == "security" else name)
    return edges


def _label(names: list[str]) -> str:
    return "<br/>".join(names) if len(names) <= LISTED else f"{len(names)} events"


def diagram() -> str:
    settings = {c: fields(c) for c in COMPONENTS}
    lines = [
        "```mermaid",
        "flowchart LR",
        "    %% made by python -m tools.flowchart from the code: do not edit by hand",
        '    person(["customer<br/>(browser)"]) -->|"HTTPS pages"| ingress["ingress"]',
        '    client(["other clients"]) -->|"HTTPS /api/v1"| ingress',
        "    ingress --> web & gateway",
        '    backoffice["the utility\'s back office"]',
        '    subgraph ebok["e-BOK"]',
    ]
    for c in COMPONENTS:
        role = ROLES.get(c)
        lines.append(f'        {c}["{c}<br/>{role}"]' if role else f'        {c}["{c}"]')
    for c in COMPONENTS:
        if "database_url" in settings[c]:
            lines.append(f'        {c} --- {c}db[("ebok_{c}")]')
    redis_users = [c for c in COMPONENTS if "redis_url" in settings[c]]
    if redis_users:
        lines.append('        redis[("Redis")]')
        lines += [f"        {c} --- redis" for c in redis_users]
    for c in COMPONENTS:
        for other in COMPONENTS:
            if f"{other}_url" in settings[c]:
                lines.append(f"        {c} -->|HTTP| {other}")
    verifiers = [c for c in SERVICES if c != "auth" and "jwks_url" in settings[c]]
    if verifiers:
        lines.append(f'        {" & ".join(verifiers)} -.->|"JWKS"| auth')
    lines.append("    end")
    for c in COMPONENTS:
        if "smtp_host" in settings[c]:
            lines.append(f'    {c} -->|SMTP| smtp(["SMTP relay"])')
        if "payu_base_url" in settings[c]:
            lines.append(f'    {c} -->|"HTTPS: payment orders"| payu(["PayU"])')
            lines.append('    payu -->|"HTTPS: notifications"| ingress')
    fed = [s for s in SERVICES if _has_feed(s)]
    if fed:
        lines.append(f'    backoffice -->|"feed batches"| {" & ".join(fed)}')
    for (producer, consumer), names in sorted(event_edges().items()):
        lines.append(f'    {producer} -.->|"{_label(names)}"| {consumer}')
    lines.append("```")
    return "\n".join(lines) + "\n"


def _has_feed(service: str) -> bool:
    router = app_as_run(service).router
    return any(
        r.resource is not None and r.resource.canonical.startswith("/operator/feed")
        for r in router.routes()
    )


def block() -> str:
    return f"{BEGIN}\n{diagram()}{END}"


def written(document: str) -> str:
    """``document`` with the diagram between its markers replaced by the one made now."""
    start, end = document.index(BEGIN), document.index(END) + len(END)
    return document[:start] + block() + document[end:]


def main(argv: list[str]) -> int:
    document = DOCUMENT.read_text("utf-8")
    fresh = written(document)
    if "--check" in argv:
        if fresh != document:
            print("docs/architecture.md: the diagram is stale: run python -m tools.flowchart")
            return 1
        return 0
    DOCUMENT.write_text(fresh, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
