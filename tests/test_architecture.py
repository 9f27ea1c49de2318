"""Rules that hold across the whole platform, checked on the real service definitions and
on the source itself (parsed with ``ast``, never imported for it): the shape of the house
(see docs/architecture.md, "Rooms")."""

from __future__ import annotations

import ast
import builtins
import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from ebok_shared.bus import default_catalogue
from ebok_shared.service import ServiceSpec

from tools import flowchart
from tools.event_table import SERVICES, spec_as_run, table

ROOT = Path(__file__).resolve().parent.parent


def _package(component: str) -> Path:
    if component == "shared":
        return ROOT / "shared" / "src" / "ebok_shared"
    if component in ("gateway", "web"):
        return ROOT / component / "src" / f"ebok_{component}"
    return ROOT / "services" / component / "src" / f"ebok_{component}"


# Every component on disk: a new service (or the future web/) is checked without a change here.
BACKEND = tuple(sorted(p.name for p in (ROOT / "services").iterdir() if (p / "src").is_dir()))
COMPONENTS = (
    "shared",
    *(c for c in ("gateway", "web") if _package(c).is_dir()),
    *BACKEND,
)


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. "ebok_billing.ledger.repository"
    path: Path
    tree: ast.Module

    @property
    def relative(self) -> str:
        return str(self.path.relative_to(ROOT))


@cache
def modules(component: str) -> tuple[Module, ...]:
    package = _package(component)
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append(Module(name, path, ast.parse(path.read_text("utf-8"), str(path))))
    return tuple(found)


def synthetic(name: str, source: str) -> Module:
    """A module that is not on disk, for showing that a rule reports what it must."""
    path = ROOT.joinpath(*name.split(".")).with_suffix(".py")
    return Module(name, path, ast.parse(source, str(path)))


# -- the specs ----------------------------------------------------------------------------------


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


def test_the_architecture_document_shows_the_real_event_catalogue() -> None:
    document = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    assert table() in document, "docs/architecture.md: run python -m tools.event_table"


def test_the_architecture_diagram_is_the_one_made_from_the_code() -> None:
    document = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    assert flowchart.written(document) == document, (
        "docs/architecture.md: run python -m tools.flowchart"
    )


# -- rooms --------------------------------------------------------------------------------------

# Names the house retired (docs/architecture.md, "Rooms"): the rooms say the same thing.
RETIRED = ("handlers.py", "operations.py", "operator_handlers.py", "customer_api.py", "http_me.py")


def room_violations(package: Path) -> list[str]:
    found = [
        f"no {room}"
        for room in ("__main__.py", "settings.py", "app.py", "events.py")
        if not (package / room).is_file()
    ]
    if not list(package.glob("http_*.py")):
        found.append("no http_*.py")
    if (
        not (package / "repository.py").is_file()
        and not (package / "repository" / "__init__.py").is_file()
        and not list(package.glob("*/repository.py"))
    ):
        found.append("no repository")
    if not list((package / "migrations").glob("0001_*.sql")):
        found.append("no migrations/0001_*.sql")
    found += [f"retired module name {name}" for name in RETIRED if (package / name).exists()]
    return found


@pytest.mark.parametrize("service", [*BACKEND, "gateway"])
def test_every_service_has_the_same_rooms(service: str) -> None:
    found = room_violations(_package(service))
    assert not found, f"{service}: {found}"


def test_the_rooms_rule_catches_what_it_must(tmp_path: Path) -> None:
    rooms = ("__main__.py", "settings.py", "app.py", "events.py", "http_public.py")
    for room in (*rooms, "repository.py", "migrations/0001_init.sql"):
        (tmp_path / room).parent.mkdir(exist_ok=True)
        (tmp_path / room).write_text("", "utf-8")
    assert room_violations(tmp_path) == []
    (tmp_path / "handlers.py").write_text("", "utf-8")
    assert room_violations(tmp_path) == ["retired module name handlers.py"]
    (tmp_path / "handlers.py").unlink()
    for room in (*rooms, "repository.py", "migrations/0001_init.sql"):
        (tmp_path / room).unlink()
        assert room_violations(tmp_path), f"{room} removed, nothing reported"
        (tmp_path / room).write_text("", "utf-8")
    # A service of sub-domains has its repositories in them (ledger/repository.py).
    (tmp_path / "repository.py").unlink()
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "repository.py").write_text("", "utf-8")
    assert room_violations(tmp_path) == []
    (tmp_path / "ledger" / "repository.py").rename(tmp_path / "ledger" / "rules.py")
    assert room_violations(tmp_path) == ["no repository"]


# -- imports ------------------------------------------------------------------------------------


def _imported(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every absolute import's top-level package, with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def forbidden_imports(component: str) -> frozenset[str]:
    """A service imports no other service and not the edge (gateway, web); the edge imports
    no service (it talks HTTP to them); shared imports nothing of ours but itself."""
    services = {f"ebok_{s}" for s in BACKEND}
    edges = {"ebok_gateway", "ebok_web"}
    if component == "shared":
        return frozenset(services | edges)
    if component in ("gateway", "web"):
        return frozenset(services | (edges - {f"ebok_{component}"}))
    return frozenset((services - {f"ebok_{component}"}) | edges)


def import_violations(component: str, found_in: Iterable[Module]) -> list[str]:
    forbidden = forbidden_imports(component)
    return [
        f"{m.relative}:{line} imports {name}"
        for m in found_in
        for line, name in _imported(m.tree)
        if name in forbidden
    ]


@pytest.mark.parametrize("component", COMPONENTS)
def test_no_component_imports_another_service(component: str) -> None:
    found = import_violations(component, modules(component))
    assert not found, "\n".join(found)


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_module_imports(component: str) -> None:
    """Every module loads. An import of a module that is no longer there (billing's and
    readings' sub-domains moved into sub-packages, issue #16, while other branches were
    written against the old places) fails here; mypy, which ignores missing imports, is
    silent about it."""
    failed = []
    for m in modules(component):
        try:
            importlib.import_module(m.name)
        except ImportError as exc:
            failed.append(f"{m.relative}: {exc}")
    assert not failed, "\n".join(failed)


def test_the_import_rule_catches_what_it_must() -> None:
    other = next(s for s in BACKEND if s != "billing")
    cases = {
        "billing": [f"import ebok_{other}.domain", "from ebok_gateway import app"],
        "gateway": ["from ebok_billing.ledger import domain", "import ebok_web"],
        "web": [f"from ebok_{other} import use_cases"],
        "shared": ["import ebok_billing", "from ebok_web.app import build"],
    }
    for component, bad in cases.items():
        for line in bad:
            module = synthetic(f"ebok_{component}.m", f"def f():\n    {line}\n")
            assert import_violations(component, [module]), (component, line)
    fine = synthetic(
        "ebok_billing.m", "import ebok_shared\nfrom ebok_billing.ledger import domain\n"
    )
    assert import_violations("billing", [fine]) == []
    relative = synthetic("ebok_billing.m", "from .ebok_readings import x\n")
    assert import_violations("billing", [relative]) == []


# -- SQL only in the repository -----------------------------------------------------------------

SQL = re.compile(
    r"\bSELECT\b[\s\S]*?\bFROM\b"
    r"|\bINSERT\s+INTO\b"
    r"|\bUPDATE\s+[\w.\"{}]+\s+SET\b"
    r"|\bDELETE\s+FROM\b"
    r"|\bON\s+CONFLICT\b",
    re.IGNORECASE,
)
# Shared infrastructure that owns its own tables (documented in docs/architecture.md):
# the pool and migrations runner, the outbox/relay/consumer/dead-letter tables of the bus,
# and the idempotency keys.
SQL_ALLOWED_IN_SHARED = frozenset(
    {
        "ebok_shared.db",
        "ebok_shared.bus.outbox",
        "ebok_shared.bus.relay",
        "ebok_shared.bus.consumer",
        "ebok_shared.bus.dlq",
        "ebok_shared.http.idempotency",
    }
)


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def string_literals(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every string literal but docstrings; an f-string as its text with ``{}`` for each
    placeholder (so ``f"SELECT {cols} FROM t"`` is one statement, not two fragments)."""
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts: list[str] = []
            for value in node.values:
                skip.add(id(value))
                text = value.value if isinstance(value, ast.Constant) else None
                parts.append(text if isinstance(text, str) else "{}")
            yield node.lineno, "".join(parts)
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            yield node.lineno, node.value


def _is_repository(name: str) -> bool:
    return "repository" in name.split(".")[1:]


def sql_violations(found_in: Iterable[Module]) -> list[str]:
    found = []
    for m in found_in:
        if _is_repository(m.name) or m.name in SQL_ALLOWED_IN_SHARED:
            continue
        for line, text in string_literals(m.tree):
            if match := SQL.search(text):
                found.append(f"{m.relative}:{line} {' '.join(match.group().split())[:60]!r}")
    return found


@pytest.mark.parametrize("component", COMPONENTS)
def test_sql_lives_only_in_the_repository(component: str) -> None:
    found = sql_violations(modules(component))
    assert not found, "\n".join(found)


def test_the_sql_rule_catches_what_it_must() -> None:
    bad = [
        'q = "SELECT id FROM bills WHERE account = $1"',
        'q = f"SELECT {cols} FROM {table}"',
        'q = "insert into outbox (id) values ($1)"',
        'q = "UPDATE bills SET paid = true"',
        'q = f"UPDATE {table} SET x = 1"',
        'q = "DELETE FROM sessions"',
        'q = "... ON CONFLICT DO NOTHING"',
    ]
    for line in bad:
        assert sql_violations([synthetic("ebok_billing.ledger.use_cases", line)]), line
        assert sql_violations([synthetic("ebok_billing.ledger.domain", line)]), line
        assert not sql_violations([synthetic("ebok_billing.ledger.repository", line)]), line
        assert not sql_violations([synthetic("ebok_auth.repository.keys", line)]), line
    assert not sql_violations([synthetic("ebok_shared.bus.outbox", bad[2])])
    assert sql_violations([synthetic("ebok_shared.loops", bad[2])])
    fine = [
        '"""Select the bills from the ledger."""',
        'label = "Delete the draft, update the settings"',
    ]
    for line in fine:
        assert not sql_violations([synthetic("ebok_billing.ledger.use_cases", line)]), line


# -- layers: a pure domain, use cases without HTTP, repositories behind the use cases -----------

ROOMS = ("domain", "repository", "use_cases")
# Modules of a sub-domain that do I/O, with a reason each (every other module of a sub-domain
# beside its use_cases and repository, and every module of the service's common package, is
# the pure domain).
IO_ALLOWED = {
    # Renders with the fonts packaged in ebok_billing (read from the package's files).
    "ebok_billing.documents.pdf",
    # Renders in a worker thread (asyncio), off the event loop, and caches the bytes.
    "ebok_billing.documents.rendering",
    # PayU's HTTP client (aiohttp), the app's one instance of it.
    "ebok_billing.payments.provider",
    # asyncpg's connection and row types, named in every repository function's signature.
    "ebok_billing.common.connection",
    "ebok_readings.common.connection",
}
# What the pure domain does not import: the network, the database, the event loop, files and
# processes, and the shared modules that do them.
IO_IMPORTS = frozenset(
    {
        "aio_pika",
        "aiohttp",
        "aiormq",
        "aiosmtplib",
        "asyncio",
        "asyncpg",
        "concurrent",
        "http",
        "httpx",
        "multiprocessing",
        "os",
        "pathlib",
        "redis",
        "requests",
        "shutil",
        "smtplib",
        "socket",
        "sqlite3",
        "ssl",
        "subprocess",
        "tempfile",
        "threading",
        "urllib",
        "ebok_shared.bus",
        "ebok_shared.db",
        "ebok_shared.http",
        "ebok_shared.loops",
        "ebok_shared.service",
        "ebok_shared.serving",
        "ebok_shared.feed.repository",
    }
)


def sub_domains(found_in: Iterable[Module]) -> frozenset[str]:
    """A service's sub-domains: its packages that hold a room (``ledger/domain.py``,
    ``ledger/use_cases.py`` or ``ledger/repository.py``)."""
    return frozenset(
        parts[1]
        for parts in (m.name.split(".") for m in found_in)
        if len(parts) == 3 and parts[2] in ROOMS and parts[1] not in (*ROOMS, "common")
    )


def room_of(name: str, subs: frozenset[str]) -> str:
    """The room a module is in: ``domain``, ``repository`` or ``use_cases`` (a module of that
    name, or one inside a package of that name: auth's ``repository/keys.py``, billing's
    ``ledger/repository.py``), ``common``, ``http`` (``http_*``), or ``top`` (the service's
    other rooms: app, events, views, scheduler, …). A sub-domain's other modules are its
    domain (billing's ``interest/rates.py``), or ``io`` where they are allowed I/O."""
    parts = name.split(".")[1:]
    if name in IO_ALLOWED:
        return "io"
    if "repository" in parts:
        return "repository"
    for room in ("use_cases", "domain"):
        if room in parts:
            return room
    if parts[:1] == ["common"]:
        return "common"
    if len(parts) > 1 and parts[0] in subs:
        return "domain"
    if parts and parts[-1].startswith("http_"):
        return "http"
    return "top"


def _targets(m: Module, known: frozenset[str]) -> Iterator[tuple[int, str]]:
    """Every module an import names, dotted and absolute (relative imports resolved; for
    ``from x import y``, ``x.y`` when that is a module, else ``x``)."""
    package = m.name.split(".") if m.path.name == "__init__.py" else m.name.split(".")[:-1]
    for node in ast.walk(m.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield node.lineno, full if full in known else base


def _is_io(target: str) -> bool:
    return any(target == io or target.startswith(f"{io}.") for io in IO_IMPORTS)


def _in_sub_domain(target: str, subs: frozenset[str]) -> bool:
    """Whether a module of ours belongs to a sub-domain."""
    parts = target.split(".")
    return len(parts) > 2 and parts[1] in subs


def layer_violations(found_in: Iterable[Module]) -> list[str]:
    """The layers of a service, from its imports:

    - the domain (``domain`` rooms, a sub-domain's other modules, ``common``) is pure: it
      imports nothing that does I/O, and of its own service only the domain and common;
    - ``common`` imports no sub-domain (it is what they share);
    - use cases know no HTTP: no ``http_*`` module, no aiohttp;
    - use cases are called by the service's top rooms and other use cases, never from below
      (domain, common, repository);
    - a sub-domain's repository is reached through use cases: only use cases (its own, or
      another sub-domain's whose action spans both in one transaction) and other repositories
      (the column lists they share) import it, never the HTTP modules, events, views, the
      scheduler or the domain."""
    found_in = list(found_in)
    known = frozenset(m.name for m in found_in)
    subs = sub_domains(found_in)
    found = []
    for m in found_in:
        service = m.name.split(".")[0]
        room = room_of(m.name, subs)
        pure = room in ("domain", "common")
        for line, target in _targets(m, known):
            where = f"{m.relative}:{line}"
            to = room_of(target, subs) if target.split(".")[0] == service else None
            if pure and _is_io(target):
                found.append(f"{where} the domain imports {target}, which does I/O")
            elif pure and to is not None and to not in ("domain", "common"):
                found.append(f"{where} the domain imports {target} ({to})")
            if room == "common" and to is not None and _in_sub_domain(target, subs):
                found.append(f"{where} common imports the sub-domain {target}")
            if room == "use_cases" and (to == "http" or target.split(".")[0] == "aiohttp"):
                found.append(f"{where} a use case imports {target}")
            if to == "use_cases" and room in ("repository", "io"):
                found.append(f"{where} the {room} module imports the use case {target}")
            if (
                to == "repository"
                and _in_sub_domain(target, subs)
                and room not in ("use_cases", "repository")
            ):
                found.append(f"{where} a {room} module reaches the repository {target}")
    return found


@pytest.mark.parametrize("service", BACKEND)
def test_the_layers_hold(service: str) -> None:
    found = layer_violations(modules(service))
    assert not found, "\n".join(found)


def test_the_layer_rule_catches_what_it_must() -> None:
    billing = list(modules("billing"))
    assert {"ledger", "interest", "documents", "payments"} <= sub_domains(billing)
    bad = {
        # the domain, a topic module of a sub-domain, common: no I/O, nothing impure of ours
        "ebok_billing.ledger.domain": [
            "import asyncpg",
            "from asyncio import sleep",
            "from ebok_shared.bus import Outbox",
            "from ebok_shared.http.params import Page",
            "from ..interest import use_cases",
            "from ..ledger.repository import INVOICE_COLUMNS",
            "from .. import views",
            "from ebok_billing.http_common import settings",
        ],
        "ebok_billing.interest.rules": ["import aiohttp", "from .repository import PRINCIPAL"],
        "ebok_billing.common.dates": ["import os", "from ..ledger.domain import Lines"],
        "ebok_auth.domain": ["from .repository import keys", "from .use_cases import Deps"],
        # use cases: no HTTP
        "ebok_billing.ledger.use_cases": [
            "from .. import http_common",
            "from ..http_customer import routes",
            "from aiohttp import web",
        ],
        "ebok_readings.meters.use_cases": ["from ebok_readings import http_customer"],
        # a repository reached from outside the use cases
        "ebok_billing.views": ["from .ledger import repository"],
        "ebok_billing.http_customer": ["from .ledger.repository import INVOICE_COLUMNS"],
        "ebok_billing.scheduler": ["import ebok_billing.payments.repository"],
        "ebok_readings.events": ["from .meters import repository as meters_repo"],
        # an index of the repositories outside the sub-domains: use cases import them directly
        "ebok_billing.repositories": ["from .ledger import repository as ledger"],
        # a use case called from below
        "ebok_billing.ledger.repository": ["from . import use_cases"],
        "ebok_readings.feed.repository": ["from ..readings.use_cases import record_reading"],
    }
    for name, lines in bad.items():
        service = name.split(".")[0].removeprefix("ebok_")
        real = [m for m in modules(service) if m.name != name]
        for line in lines:
            module = synthetic(name, f"from __future__ import annotations\n{line}\n")
            assert layer_violations([*real, module]), (name, line)
    fine = {
        "ebok_billing.ledger.domain": ["import decimal", "from ..interest.rates import RateTable"],
        "ebok_billing.interest.rules": ["from ..common.money import amount", "from . import notes"],
        "ebok_billing.ledger.use_cases": [
            "from .. import events",
            "from . import repository as repo",
            "from ..interest import repository as interest_repo",
            "from ..interest.use_cases import load_rate_table",
        ],
        "ebok_billing.http_customer": [
            "from .ledger import use_cases",
            "from .ledger import domain",
        ],
        "ebok_billing.documents.repository": ["from ..ledger.repository import INVOICE_COLUMNS"],
        "ebok_readings.views": ["from .clients.use_cases import Export"],
    }
    for name, lines in fine.items():
        service = name.split(".")[0].removeprefix("ebok_")
        real = [m for m in modules(service) if m.name != name]
        for line in lines:
            module = synthetic(name, f"{line}\n")
            assert layer_violations([*real, module]) == [], (name, line)


# -- problems only at the HTTP edge -------------------------------------------------------------

# The builders of an HTTP problem; a use case or the domain raises a Refusal instead.
PROBLEM_NAMES = frozenset({"Problem", "field_problem", "validation_problem", "problem_response"})
# Modules that read a request body themselves, with a reason each.
PROBLEM_ALLOWED = {
    # The streaming multipart reader answers mid-body (and closes the connection).
    "ebok_correspondence.upload",
}


def problem_violations(found_in: Iterable[Module]) -> list[str]:
    found = []
    for m in found_in:
        last = m.name.split(".")[-1]
        if last.startswith("http_") or last == "app" or m.name in PROBLEM_ALLOWED:
            continue
        for node in ast.walk(m.tree):
            if isinstance(node, ast.ImportFrom):
                named = [a.name for a in node.names if a.name in PROBLEM_NAMES]
                if named:
                    found.append(f"{m.relative}:{node.lineno} imports {', '.join(named)}")
            elif isinstance(node, ast.Attribute) and node.attr in PROBLEM_NAMES:
                found.append(f"{m.relative}:{node.lineno} uses {node.attr}")
    return found


# The services only: shared defines Problem, and the gateway is the HTTP edge through and
# through (its middlewares and the upstream translation answer problems themselves).
@pytest.mark.parametrize("service", BACKEND)
def test_only_the_http_edge_knows_problems(service: str) -> None:
    found = problem_violations(modules(service))
    assert not found, "\n".join(found)


def test_the_problem_rule_catches_what_it_must() -> None:
    bad = [
        "from ebok_shared.http.problems import Problem",
        "from ebok_shared.http.problems import field_problem as fp",
        "from ebok_shared.http import problems\nraise problems.Problem(422, 'x')",
        "import ebok_shared.http.problems\nebok_shared.http.problems.validation_problem([])",
    ]
    for source in bad:
        for where in (
            "ebok_billing.ledger.use_cases",
            "ebok_billing.ledger.domain",
            "ebok_billing.events",
        ):
            assert problem_violations([synthetic(where, source)]), (where, source)
        assert not problem_violations([synthetic("ebok_billing.http_public", source)]), source


# -- handlers raise no domain error untranslated ----------------------------------------------

# Handlers that catch a refusal themselves, with a reason each (the shared renderer does it
# for every other one; Retry-After and several refused fields go through it too). None now.
REFUSAL_CAUGHT_ALLOWED: set[str] = set()


def _error_classes(found_in: Iterable[Module]) -> tuple[set[str], set[str]]:
    """The exception classes the modules define, by name: (refusals, other errors). A class is
    an error if a base is a built-in exception, ``Refusal`` or an error defined here."""
    classes = [
        (
            node.name,
            {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases},
        )
        for m in found_in
        for node in ast.walk(m.tree)
        if isinstance(node, ast.ClassDef)
    ]
    refusals, errors = {"Refusal"}, set[str]()
    changed = True
    while changed:
        changed = False
        for name, bases in classes:
            if name in refusals or name in errors:
                continue
            if bases & refusals:
                refusals.add(name)
                changed = True
            elif bases & errors or any(
                isinstance(b := getattr(builtins, base, None), type)
                and issubclass(b, BaseException)
                for base in bases
            ):
                errors.add(name)
                changed = True
    return refusals, errors


def _caught(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            for t in types:
                name = t.id if isinstance(t, ast.Name) else getattr(t, "attr", None)
                if name:
                    yield node.lineno, name


def untranslated_errors(found_in: Iterable[Module]) -> list[str]:
    """A refusal reaches the shared renderer, which answers its problem: a handler
    (``http_*``) does not catch one itself. Every other error a service defines is caught
    below the edge (a use case turns it into a refusal or a decision); one that no use case,
    domain or worker module catches would reach a handler as a 500."""
    found_in = list(found_in)
    refusals, errors = _error_classes(found_in)
    found, caught_below = [], set()
    for m in found_in:
        edge = m.name.split(".")[-1].startswith("http_")
        for line, name in _caught(m.tree):
            if edge and name in refusals and m.name not in REFUSAL_CAUGHT_ALLOWED:
                found.append(f"{m.relative}:{line} a handler catches the refusal {name}")
            if not edge:
                caught_below.add(name)
    bases: dict[str, set[str]] = {
        node.name: {str(getattr(b, "id", None) or getattr(b, "attr", "")) for b in node.bases}
        for m in found_in
        for node in ast.walk(m.tree)
        if isinstance(node, ast.ClassDef)
    }

    def lineage(name: str) -> set[str]:
        """The class and its ancestors among ours (catching a base catches it), and its
        direct subclasses (an abstract base is caught as its kinds)."""
        found: set[str] = {name}
        todo = [name]
        while todo:
            for base in bases.get(todo.pop(), set()) - found:
                found.add(base)
                todo.append(base)
        return found | {sub for sub, of in bases.items() if name in of}

    for m in found_in:
        for node in ast.walk(m.tree):
            if isinstance(node, ast.ClassDef) and node.name in errors:
                if not lineage(node.name) & errors & caught_below:
                    found.append(f"{m.relative}:{node.lineno} {node.name} is caught nowhere")
    return found


@pytest.mark.parametrize("service", BACKEND)
def test_handlers_raise_no_domain_error_untranslated(service: str) -> None:
    found = untranslated_errors(modules(service))
    assert not found, "\n".join(found)


def test_the_untranslated_error_rule_catches_what_it_must() -> None:
    domain = synthetic(
        "ebok_billing.ledger.domain",
        "class Late(Refusal): ...\nclass Gone(Late): ...\nclass RateMissing(LookupError): ...\n",
    )
    translated = synthetic(
        "ebok_billing.ledger.use_cases",
        "try:\n    f()\nexcept RateMissing:\n    raise Late('rate')\n",
    )
    assert untranslated_errors([domain, translated]) == []
    assert untranslated_errors([domain]) == [
        "ebok_billing/ledger/domain.py:3 RateMissing is caught nowhere"
    ]
    in_handler = synthetic(
        "ebok_billing.http_customer", "try:\n    f()\nexcept RateMissing:\n    pass\n"
    )
    assert untranslated_errors([domain, in_handler]), "caught only at the edge"
    broad = synthetic(
        "ebok_billing.interest.use_cases", "try:\n    f()\nexcept LookupError:\n    pass\n"
    )
    assert untranslated_errors([domain, broad]), "a built-in base is no translation"
    for caught in ("Gone", "domain.Late", "(ValueError, Refusal)"):
        handler = synthetic(
            "ebok_billing.http_customer", f"try:\n    f()\nexcept {caught}:\n    pass\n"
        )
        assert untranslated_errors([domain, translated, handler]), caught


# -- the public API's schemas live once, in ebok_shared.api ----------------------------------

# JSON Schemas kept outside the contract, with a reason each.
SCHEMA_ALLOWED = {
    # POST /service-tokens: service-to-service credentials, never under /api/v1.
    "ebok_auth.http_public",
}


def schema_literals(found_in: Iterable[Module]) -> list[str]:
    """Dict literals that are JSON Schemas of an object (``properties`` with ``type`` or
    ``additionalProperties``): the services validate with, and the gateway documents, the
    contract in ``ebok_shared.api`` (issue #14: one source, no copies kept equal by a test)."""
    found = []
    for m in found_in:
        if m.name in SCHEMA_ALLOWED:
            continue
        for node in ast.walk(m.tree):
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if "properties" in keys and keys & {"type", "additionalProperties"}:
                    found.append(f"{m.relative}:{node.lineno}")
    return found


@pytest.mark.parametrize("component", [c for c in COMPONENTS if c != "shared"])
def test_request_and_answer_schemas_live_in_the_shared_contract(component: str) -> None:
    found = schema_literals(modules(component))
    assert not found, "\n".join(found)


def test_the_schema_rule_catches_what_it_must() -> None:
    bad = [
        'S = {"type": "object", "properties": {"amount": {"type": "integer"}}}',
        'S = {"properties": {}, "additionalProperties": False}',
        'def f():\n    return [{"x": 1}, {"type": "object", "properties": {}}]',
    ]
    for source in bad:
        assert schema_literals([synthetic("ebok_billing.http_public", source)]), source
    fine = ['S = {"type": "object"}', 'S = {"properties": 1}', 'S = {"type": "string"}']
    for source in fine:
        assert not schema_literals([synthetic("ebok_billing.http_public", source)]), source


# -- every type: ignore names its error and says why ---------------------------------------

IGNORE = re.compile(r"#\s*type:\s*ignore\b(?P<codes>\[[^\]]*\])?(?P<rest>.*)$")
CODES = re.compile(r"\[[a-z][a-z-]*(\s*,\s*[a-z][a-z-]*)*\]")


def _python_sources() -> Iterator[Path]:
    for folder in ("shared", "gateway", "web", "services", "tests", "tools", "bench", "deploy"):
        yield from (p for p in (ROOT / folder).rglob("*.py") if ".venv" not in p.parts)


def ignore_violations(lines: list[str], name: str) -> list[str]:
    """Each type-ignore comment must name its error code(s) (a bare one hides every error on
    the line) and give its reason: a comment after it, or a comment on the line above."""
    found = []
    for number, line in enumerate(lines, 1):
        ignore = IGNORE.search(line)
        if ignore is None:
            continue
        codes, rest = ignore["codes"], ignore["rest"].strip()
        above = lines[number - 2].strip() if number > 1 else ""
        reason = re.fullmatch(r"#\s*\S.*", rest) is not None or above.startswith("#")
        if codes is None or not CODES.fullmatch(codes):
            found.append(f"{name}:{number}: a type: ignore names no error code")
        elif not reason:
            found.append(f"{name}:{number}: a type: ignore without its reason")
    return found


def test_every_type_ignore_names_its_error_and_its_reason() -> None:
    found = [
        violation
        for path in _python_sources()
        for violation in ignore_violations(
            path.read_text(encoding="utf-8").splitlines(), str(path.relative_to(ROOT))
        )
    ]
    assert not found, "\n".join(found)


def test_the_type_ignore_rule_catches_what_it_must() -> None:
    ignore = "# type: " + "ignore"  # spelled apart so that this file is not its own example
    bad = [f"x = f()  {ignore}", f"x = f()  {ignore}[]", f"x = f()  {ignore}[arg-type]"]
    bad.append(f"x = f()  {ignore}[arg-type]  #")
    good = [
        f"x = f()  {ignore}[arg-type]  # f is untyped",
        f"# f is untyped\nx = f()  {ignore}[arg-type, misc]",
    ]
    for line in bad:
        assert ignore_violations(line.splitlines(), "m.py"), line
    for text in good:
        assert not ignore_violations(text.splitlines(), "m.py"), text
