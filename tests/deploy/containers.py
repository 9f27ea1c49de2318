"""The container test's machinery: podman (runc, no default ulimits: the project's
containers.conf via CONTAINERS_CONF, nothing outside the project changed), a Debian
bookworm base image with Python 3.11 made offline with debootstrap and cached between runs,
every component's image built from deploy/Dockerfile, a stack whose components each run
in a container of its image (the local run's plan: same ports, databases, environment), and
compose.yaml run with podman-compose (the infrastructure from Debian's packages:
deploy/podman/compose.offline.yaml), its own project, ports and volumes."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from deploy.local import LocalStack
from deploy.plan import REPO, Component, StackConfig
from deploy.processes import Child, Output
from tests.support.commands import free_port, run

CONF = REPO / "deploy" / "podman" / "containers.conf"
BASE_IMAGE = "localhost/ebok-base:bookworm-py311"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ebok"
BASE_TAR = CACHE / "debian-bookworm-python3.11.tar"
MIRROR = os.environ.get("EBOK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
NEEDED = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
DNSNAME = Path("/usr/lib/cni/dnsname")
IMAGES = ("web", "gateway", "auth", "billing", "readings", "correspondence", "notifier")
LABEL = "ebok.container-test"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONF)}


def _run(*argv: str | Path, timeout: float = 900) -> str:
    return run(*argv, env=env(), timeout=timeout)


def ensure_tools() -> list[str]:
    """podman, runc, debootstrap and the CNI plugin that lets compose's containers find each
    other by name (podman 4.3's CNI networks have no DNS without it), installed with apt when
    missing; what was installed."""
    missing = [package for tool, package in NEEDED.items() if shutil.which(tool) is None]
    if not (DNSNAME.exists() or shutil.which("netavark")):
        missing.append("golang-github-containernetworking-plugin-dnsname")
    if not missing:
        return []
    if os.geteuid() == 0:
        sudo: list[str] = []
    elif shutil.which("sudo"):
        sudo = ["sudo", "-n"]
    else:
        raise AssertionError(
            f"{', '.join(missing)} missing and I cannot install them (neither root nor sudo):"
            f" run 'apt-get install {' '.join(missing)}' as root"
        )
    apt = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    subprocess.run([*apt, "update", "-qq"], check=False, timeout=600)
    _run(*apt, "install", "-y", "-qq", "--no-install-recommends", *missing, timeout=1200)
    return missing


def ensure_base() -> str:
    """The base image in podman: there already, imported from the cached tarball, or made
    with debootstrap (minbase + python3.11 + pip), cached, imported. Says which."""
    if subprocess.run(["podman", "image", "exists", BASE_IMAGE], env=env()).returncode == 0:
        return "present"
    how = "cached"
    if not BASE_TAR.exists():
        how = "debootstrapped"
        CACHE.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
        try:
            _run(
                "debootstrap",
                "--variant=minbase",
                "--include=python3.11,python3-pip",
                "bookworm",
                root,
                MIRROR,
                timeout=1800,
            )
            # Trust what this host trusts (a proxy's CA in front of PyPI, say): the build
            # fetches uv and the locked wheels from PyPI.
            shutil.copy(HOST_CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")
            # What an image needs no copy of: package lists and downloaded packages.
            for leftover in ("var/lib/apt/lists", "var/cache/apt/archives"):
                for path in (root / leftover).glob("*"):
                    if path.is_file():
                        path.unlink()
            partial = BASE_TAR.with_suffix(".partial")
            _run(
                "tar",
                "-C",
                root,
                "--exclude=./proc/*",
                "--exclude=./sys/*",
                "--exclude=./dev/*",
                "-cf",
                partial,
                ".",
            )
            partial.rename(BASE_TAR)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    # pip and uv read the system's bundle only when told so.
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    _run(
        "podman",
        "import",
        "--change",
        f"ENV SSL_CERT_FILE={bundle}",
        "--change",
        f"ENV PIP_CERT={bundle}",
        BASE_TAR,
        BASE_IMAGE,
    )
    return how


def image(component: str) -> str:
    return f"localhost/ebok-{component}:test"


def build(component: str) -> float:
    """Build the component's image on the base image; the seconds it took."""
    started = time.monotonic()
    _run(
        "podman",
        "build",
        "--network",
        "host",
        "-f",
        REPO / "deploy" / "Dockerfile",
        "--ignorefile",
        REPO / "deploy" / "Dockerfile.dockerignore",
        "--build-arg",
        f"SERVICE={component}",
        "--build-arg",
        f"PYTHON_IMAGE={BASE_IMAGE}",
        "-t",
        image(component),
        REPO,
        timeout=1800,
    )
    return time.monotonic() - started


def size(tag: str) -> int:
    return int(_run("podman", "image", "inspect", "--format", "{{.Size}}", tag).strip())


def running(run_id: str) -> list[str]:
    """Names of this run's containers that are running now."""
    out = _run("podman", "ps", "--filter", f"label={LABEL}={run_id}", "--format", "{{.Names}}")
    return sorted(out.split())


def remove_all(run_id: str) -> None:
    ids = _run("podman", "ps", "-aq", "--filter", f"label={LABEL}={run_id}").split()
    if ids:
        subprocess.run(["podman", "rm", "-f", "-t", "0", *ids], env=env(), capture_output=True)


# Runs as three containers, one per role (serve --role), the others as one (role all).
SPLIT = "readings"
SPLIT_PORTS = {"worker": 100, "relay": 200}  # its worker's and relay's HTTP port: api's + this


class ContainerStack(LocalStack):
    """The local run with every component but the SMTP sink in a container of its image:
    host network (the host's PostgreSQL, RabbitMQ and Redis, the plan's ports), read-only
    root file system, user 10001, a /tmp in memory; ``podman run`` in the foreground, so
    SIGTERM to it reaches the app (podman proxies signals) and its exit code is the app's.
    :data:`SPLIT` runs as ``serve --role api``, plus ``<name>-worker`` and ``<name>-relay``
    components (health and metrics on their own ports)."""

    def __init__(self, config: StackConfig, output: Output) -> None:
        super().__init__(config, output)
        self.run_id = uuid.uuid4().hex[:8]
        self.roles: dict[str, tuple[str, str]] = {}  # component name -> (image's, role)
        components = []
        for c in self.components:
            # podman itself needs the project's containers.conf (restarts reuse this env).
            c = dataclasses.replace(c, env={**c.env, "CONTAINERS_CONF": str(CONF)})
            components.append(c)
            if c.name == SPLIT:
                self.roles[c.name] = (c.name, "api")
                for role, offset in SPLIT_PORTS.items():
                    name, port = f"{c.name}-{role}", c.port + offset
                    self.roles[name] = (c.name, role)
                    env = {**c.env, "EBOK_HTTP_PORT": str(port)}
                    # No database of its own to create or migrate: the api's.
                    components.append(
                        dataclasses.replace(c, name=name, port=port, env=env, database=None)
                    )
        self.components = components

    def _child(self, component: Component, command: str) -> Child:
        if component.kind == "sink":
            return super()._child(component, command)
        key = f"{component.name}:{command}"
        if key not in self._made:
            app_env = {k: v for k, v in component.env.items() if k.startswith("EBOK_")}
            app_env |= {"EBOK_MIGRATE_AT_START": "false", "PYTHONUNBUFFERED": "1"}
            owner, role = self.roles.get(component.name, (component.name, "all"))
            args = [command]
            if command == "serve" and owner != "web":
                args += ["--role", role]
            argv = [
                "podman",
                "run",
                "--rm",
                "--name",
                f"ebok-{self.run_id}-{component.name}-{command}",
                "--label",
                f"{LABEL}={self.run_id}",
                "--network",
                "host",
                "--read-only",
                "--tmpfs",
                "/tmp:size=64m",
                "--user",
                "10001:10001",
                "--stop-timeout",
                "30",
                *(arg for k, v in sorted(app_env.items()) for arg in ("-e", f"{k}={v}")),
                image(owner),
                *args,
            ]
            self._made[key] = Child(component.name, argv, component.env, self.output)
        return self._made[key]

    def kill_all_now(self) -> None:
        super().kill_all_now()
        remove_all(self.run_id)


# -- compose.yaml through podman-compose ---------------------------------------------------------

INFRA = ("postgres", "rabbitmq", "redis", "smtp-sink")  # targets of deploy/podman/infra/Dockerfile
INFRA_DIR = REPO / "deploy" / "podman" / "infra"
COMPOSE_FILES = (REPO / "compose.yaml", REPO / "deploy" / "podman" / "compose.offline.yaml")
APP_ONE_OFF = tuple(f"migrate-{c}" for c in IMAGES if c != "web")


def infra_tag() -> str:
    """The infrastructure images' tag: a digest of what they are built from (the base image's
    id too), so they are built again only when that changes, kept in podman meanwhile."""
    digest = hashlib.sha256(
        _run("podman", "image", "inspect", "--format", "{{.Id}}", BASE_IMAGE).encode()
    )
    for path in sorted(INFRA_DIR.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_infra() -> str:
    """PostgreSQL, RabbitMQ, Redis and the SMTP sink built on the base image (cached by
    :func:`infra_tag`); says which were built."""
    tag, built = infra_tag(), []
    for target in INFRA:
        name = f"localhost/ebok-infra-{target}:{tag}"
        if subprocess.run(["podman", "image", "exists", name], env=env()).returncode == 0:
            continue
        _run(
            "podman",
            "build",
            "--network",
            "host",
            "-f",
            INFRA_DIR / "Dockerfile",
            "--target",
            target,
            "--build-arg",
            f"BASE={BASE_IMAGE}",
            "-t",
            name,
            INFRA_DIR,
            timeout=1800,
        )
        built.append(target)
    return f"built {', '.join(built)}" if built else "cached"


def startup_order(
    services: dict[str, dict[str, Any]],
) -> list[tuple[list[str], dict[str, str]]]:
    """compose.yaml's services in layers, each after the ones it depends on; with each, the
    condition to wait for: the strongest its dependents name (healthy when it has a
    healthcheck and nothing asks more)."""
    needs = {name: dict(spec.get("depends_on") or {}) for name, spec in services.items()}
    wanted: dict[str, str] = {
        name: "service_healthy" if "healthcheck" in spec else "service_started"
        for name, spec in services.items()
    }
    for deps in needs.values():
        for dep, how in deps.items():
            if how["condition"] == "service_completed_successfully":
                wanted[dep] = how["condition"]
    layers, done = [], set[str]()
    while len(done) < len(services):
        layer = [n for n in services if n not in done and set(needs[n]) <= done]
        assert layer, f"a dependency cycle among {set(services) - done}"
        layers.append((layer, {n: wanted[n] for n in layer}))
        done.update(layer)
    return layers


class ComposeStack:
    """compose.yaml + compose.offline.yaml + a file of the test's own (PostgreSQL published for
    the test's checks, the sink's Maildir and a folder of batch files from this machine) under
    a project name of its own, its ports chosen free. Quacks like tests.e2e.stack.Stack as far
    as the journeys need (api, portal_url, maildir, database_url, run)."""

    def __init__(self, workdir: Path) -> None:
        self.project = f"ebok-compose-{uuid.uuid4().hex[:8]}"
        self.ports = {name: free_port() for name in ("web", "gateway", "mail", "postgres")}
        self.maildir = workdir / "mail"
        self.feeds = workdir / "feeds"
        for folder in (self.maildir, self.feeds):
            folder.mkdir()
            folder.chmod(0o755)  # the app's user 10001 reads the batch files
        self.override = workdir / "compose.test.yaml"
        test_only = {
            "services": {
                "postgres": {"ports": [f"127.0.0.1:{self.ports['postgres']}:5432"]},
                "smtp-sink": {"volumes": [f"{self.maildir}:/var/mail/ebok"]},
                "billing": {"volumes": [f"{self.feeds}:/feeds:ro"]},
            }
        }
        self.override.write_text(yaml.safe_dump(test_only), "utf-8")
        self.tag = infra_tag()
        self.services: dict[str, dict[str, Any]] = yaml.safe_load(
            COMPOSE_FILES[0].read_text("utf-8")
        )["services"]

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}/api/v1"

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web']}"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres:ebok@127.0.0.1:{self.ports['postgres']}/ebok_{name}"

    def env(self) -> dict[str, str]:
        return {
            **env(),
            "EBOK_TAG": "test",
            "EBOK_INFRA_TAG": self.tag,
            "EBOK_PYTHON_IMAGE": BASE_IMAGE,
            "EBOK_DEBIAN_IMAGE": BASE_IMAGE,
            "EBOK_WEB_PORT": str(self.ports["web"]),
            "EBOK_GATEWAY_PORT": str(self.ports["gateway"]),
            "EBOK_MAIL_PORT": str(self.ports["mail"]),
        }

    def compose(self, *args: str, timeout: float = 600) -> str:
        files = [arg for path in (*COMPOSE_FILES, self.override) for arg in ("-f", str(path))]
        return run(
            "podman-compose",
            "-p",
            self.project,
            *files,
            *args,
            env=self.env(),
            timeout=timeout,
            cwd=REPO,
        )

    def containers(self) -> dict[str, tuple[str, str]]:
        """service -> (container name, state and exit code) of this project's containers."""
        label = f"label=io.podman.compose.project={self.project}"
        listed = json.loads(_run("podman", "ps", "-a", "--filter", label, "--format", "json"))
        found = {}
        for c in listed:
            service = c["Labels"]["com.docker.compose.service"]
            found[service] = (c["Names"][0], f"{c['State']}:{c['ExitCode']}")
        return found

    def wait_for(self, service: str, condition: str, timeout: float = 240) -> None:
        """Until the service is healthy (its own healthcheck, compose.yaml's, passes),
        completed (exited with 0) or started."""
        deadline = time.monotonic() + timeout
        while True:
            name, state = self.containers()[service]
            if condition == "service_completed_successfully":
                if state == "exited:0":
                    return
                assert not state.startswith("exited"), f"{service}: {state}\n{self.logs(service)}"
            elif condition == "service_healthy":
                check = subprocess.run(
                    ["podman", "healthcheck", "run", name], env=env(), capture_output=True
                )
                if check.returncode == 0:
                    return
            elif state.startswith("running"):
                return
            assert time.monotonic() < deadline, f"{service} not {condition}:\n{self.logs(service)}"
            time.sleep(1)

    def logs(self, service: str) -> str:
        name, _ = self.containers()[service]
        done = subprocess.run(
            ["podman", "logs", "--tail", "40", name], env=env(), capture_output=True, text=True
        )
        return done.stdout + done.stderr

    def up(self) -> None:
        """compose.yaml's order, kept by the test: podman 4.3 (Debian bookworm's) cannot start
        a container whose dependency has dependencies of its own (podman-compose passes them as
        --requires: "depends on container … not found in input list"), and podman-compose
        skips `service_healthy` conditions on podman older than 4.6. So each layer of the
        dependency graph goes up with --no-deps once the layer before meets the conditions
        compose.yaml names."""
        for layer, conditions in startup_order(self.services):
            self.compose("up", "-d", "--no-build", "--no-deps", "--no-recreate", *layer)
            for service in layer:
                self.wait_for(service, conditions[service])

    async def run(self, component: str, *args: str) -> tuple[int, list[str]]:
        """The component's command in its running container (a batch file from
        :attr:`feeds` under /feeds): the exit code and what it printed."""
        name, _ = self.containers()[component]
        inside = [arg.replace(str(self.feeds), "/feeds") for arg in args]
        process = await asyncio.create_subprocess_exec(
            "podman",
            "exec",
            name,
            "ebok-service",
            *inside,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        return int(process.returncode or 0), out.decode(errors="replace").splitlines()

    def leftovers(self) -> dict[str, list[str]]:
        """This project's containers, volumes and networks still there."""
        label = f"label=io.podman.compose.project={self.project}"
        found = {
            "containers": _run("podman", "ps", "-aq", "--filter", label).split(),
            "volumes": _run("podman", "volume", "ls", "-q", "--filter", label).split(),
            "networks": _run(
                "podman", "network", "ls", "-q", "--filter", f"name=^{self.project}_"
            ).split(),
        }
        return {kind: names for kind, names in found.items() if names}

    def down(self) -> None:
        """`down -v`, then whatever it left (a failed `up` can): nothing of it stays."""
        try:
            self.compose("down", "-v", "-t", "10")
        finally:
            left = self.leftovers()
            for kind, command in (
                ("containers", "rm"),
                ("volumes", "volume"),
                ("networks", "network"),
            ):
                if kind in left:
                    argv = ["podman", command] if command == "rm" else ["podman", command, "rm"]
                    subprocess.run([*argv, "-f", *left[kind]], env=env(), capture_output=True)
