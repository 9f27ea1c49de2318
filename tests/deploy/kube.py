"""Rendering and checking the Kubernetes manifests: kustomize (kubectl's), the API schemas
of a current Kubernetes (kubernetes-validate, offline) and the operators' custom resources
against the schemas kept in deploy/k8s/schemas (a kind with neither is an error)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import yaml

from deploy.manifests import K8S, OPTIONAL

SCHEMAS = K8S / "schemas"
KUBERNETES = kubernetes_validate.latest_version()
# kubernetes-validate reads and parses its schema files (the definitions are megabytes) for
# every resource it checks; the files never change, so read each once (14x faster here).
kubernetes_validate.utils.schema_contents = functools.cache(  # type: ignore[method-assign]
    kubernetes_validate.utils.schema_contents
)

Doc = dict[str, Any]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        raise AssertionError("kubectl (with kustomize) is needed: apt-get install kubectl")
    return found


def render(directory: Path) -> list[Doc]:
    done = subprocess.run(
        [kubectl(), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"kubectl kustomize {directory} failed:\n{done.stderr}"
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def combination(tmp: Path, components: tuple[str, ...]) -> Path:
    """A kustomization of the base with ``components``, written in ``tmp``."""
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize takes relative paths only.
        "resources": [os.path.relpath(K8S / "base", tmp)],
        "components": [os.path.relpath(K8S / "components" / c, tmp) for c in components],
    }
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "kustomization.yaml").write_text(yaml.safe_dump(doc))
    return tmp


def combinations() -> dict[str, tuple[str, ...]]:
    """The base alone, with each optional component, and with all of them."""
    found: dict[str, tuple[str, ...]] = {"base": ()}
    found |= {f"base+{name}": (name,) for name in OPTIONAL}
    found["base+all"] = tuple(OPTIONAL)
    return found


@functools.cache
def _custom_schema(api_version: str, kind: str) -> Doc | None:
    path = SCHEMAS / f"{api_version.replace('/', '_')}_{kind}.json"
    return json.loads(path.read_text()) if path.exists() else None


def problems(doc: Doc) -> list[str]:
    """What is wrong with one rendered resource (nothing: an empty list)."""
    what = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        return []
    except kubernetes_validate.SchemaNotFoundError:
        pass
    except kubernetes_validate.ValidationError as exc:
        return [f"{what}: {exc.message} at {'/'.join(map(str, exc.path))}"]
    schema = _custom_schema(doc["apiVersion"], doc["kind"])
    if schema is None:
        return [
            f"{what}: {doc['apiVersion']} {doc['kind']} is neither a Kubernetes kind nor"
            f" one with a schema in {SCHEMAS.relative_to(K8S.parent.parent)}"
        ]
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{what}: {error.message} at {'/'.join(map(str, error.path))}"
        for error in validator.iter_errors(doc)
    ]
