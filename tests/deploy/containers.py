"""The container test's machinery: podman (runc, no default ulimits: the project's
containers.conf via CONTAINERS_CONF, nothing outside the project changed), a Debian
bookworm base image with Python 3.11 made offline with debootstrap and cached between runs,
every component's image built from deploy/Dockerfile, and a stack whose components each run
in a container of its image (the local run's plan: same ports, databases, environment)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from deploy.local import LocalStack
from deploy.plan import REPO, Component, StackConfig
from deploy.processes import Child, Output

CONF = REPO / "deploy" / "podman" / "containers.conf"
BASE_IMAGE = "localhost/ebok-base:bookworm-py311"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ebok"
BASE_TAR = CACHE / "debian-bookworm-python3.11.tar"
MIRROR = os.environ.get("EBOK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
NEEDED = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
IMAGES = ("web", "gateway", "auth", "billing", "readings", "correspondence", "notifier")
LABEL = "ebok.container-test"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONF)}


def _run(*argv: str | Path, timeout: float = 900) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, argv))} failed ({done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


def ensure_tools() -> list[str]:
    """podman, runc and debootstrap, installed with apt when missing; what was installed."""
    missing = [package for tool, package in NEEDED.items() if shutil.which(tool) is None]
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
