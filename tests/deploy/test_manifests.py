"""The Kubernetes manifests: generated from deploy/manifests.py, every overlay and component
combination renders and is valid for a current Kubernetes and the operators' schemas, and
every Deployment keeps the platform's rules (policy as code)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

from deploy import manifests
from deploy.manifests import ALERTS, AMQPS_PORT, COMPONENTS, K8S, SERVICES
from deploy.plan import REPO
from tests.deploy import kube

OVERLAYS = ("dev", "prod")
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Doc]]:
    folders = {f"overlay {o}": K8S / "overlays" / o for o in OVERLAYS}
    for name, components in kube.combinations().items():
        folders[name] = kube.combination(tmp_path_factory.mktemp(name), components)
    with ThreadPoolExecutor(max_workers=4) as pool:  # kubectl spends its time starting
        return dict(zip(folders, pool.map(kube.render, folders.values()), strict=True))


def _of(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def _pods(docs: list[Doc]) -> list[tuple[Doc, Doc]]:
    """(owner, pod spec) of every Deployment and Job."""
    return [(d, d["spec"]["template"]["spec"]) for d in docs if d["kind"] in ("Deployment", "Job")]


def test_the_files_are_what_the_generator_writes() -> None:
    for relative, text in manifests.render().items():
        path = K8S / relative
        assert path.exists() and path.read_text("utf-8") == text, (
            f"{path} is not what deploy/manifests.py writes: run python -m deploy.manifests"
        )


def test_every_combination_renders_and_is_valid(rendered: dict[str, list[Doc]]) -> None:
    assert set(rendered) == {f"overlay {o}" for o in OVERLAYS} | set(kube.combinations())
    seen: set[str] = set()  # the base's resources recur in every combination: check once
    failures = []
    for name, docs in rendered.items():
        for doc in docs:
            key = json.dumps(doc, sort_keys=True)
            if key not in seen:
                seen.add(key)
                failures += [f"{name}: {p}" for p in kube.problems(doc)]
    assert not failures, "\n".join(failures)


def test_the_check_refuses_an_unknown_kind_and_a_wrong_field() -> None:
    """The validation above can fail: a kind nobody has a schema for, a misspelt field in a
    core kind and in a custom resource."""
    assert kube.problems(
        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "x"}}
    )
    deployment = manifests.deployment(COMPONENTS[1], "api")
    assert kube.problems(deployment) == []
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    assert kube.problems(deployment)
    (scaled,) = [d for d in manifests.keda() if d["metadata"]["name"] == "auth-worker"]
    assert kube.problems(scaled) == []
    scaled["spec"]["maxReplicas"] = 3
    assert kube.problems(scaled)


@pytest.mark.parametrize("name", [f"overlay {o}" for o in OVERLAYS] + ["base+all"])
def test_every_workload_keeps_the_rules(rendered: dict[str, list[Doc]], name: str) -> None:
    docs = rendered[name]
    budgets = _of(docs, "PodDisruptionBudget")
    for owner, pod in _pods(docs):
        what = f"{owner['kind']}/{owner['metadata']['name']}"
        assert pod["securityContext"]["runAsNonRoot"] is True, what
        assert pod["automountServiceAccountToken"] is False, what
        for container in pod.get("initContainers", []) + pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, what
            assert security["allowPrivilegeEscalation"] is False, what
            assert security["capabilities"]["drop"] == ["ALL"], what
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), what
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), what
        if owner["kind"] != "Deployment":
            continue
        (container,) = pod["containers"]
        assert {"readinessProbe", "livenessProbe"} <= set(container), what
        keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, what
        labels = owner["spec"]["template"]["metadata"]["labels"]
        covering = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(covering) == 1, f"{what}: {len(covering)} disruption budgets"


@pytest.mark.parametrize("name", [f"overlay {o}" for o in OVERLAYS] + ["base+all"])
def test_every_reference_exists(rendered: dict[str, list[Doc]], name: str) -> None:
    """Every Secret named anywhere is in secrets.example.yaml; every ConfigMap is rendered."""
    docs = rendered[name]
    example = {
        d["metadata"]["name"]: set(d["stringData"])
        for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
        if d
    }
    config_maps = {d["metadata"]["name"] for d in _of(docs, "ConfigMap")}
    secrets = set(_secret_names(docs))
    assert secrets, "no Secret referenced at all: the walk below is broken"
    assert secrets <= set(example), sorted(secrets - set(example))
    for owner, pod in _pods(docs):
        for container in pod.get("initContainers", []) + pod["containers"]:
            for ref in container.get("envFrom", []):
                if "configMapRef" in ref:
                    assert ref["configMapRef"]["name"] in config_maps, owner["metadata"]["name"]
    # Every ExternalSecret makes a Secret of the example, every example Secret has one.
    external = {d["spec"]["target"]["name"] for d in _of(docs, "ExternalSecret")}
    if external:
        assert external == set(example)


# Keys whose value is {"name": <a Secret>} in core kinds and the operators' kinds.
_NAMING_KEYS = ("secretRef", "secret", "importCredentialsSecret", "accessKeyId", "secretAccessKey")


def _secret_names(node: Any) -> list[str]:
    """Every Secret a rendered resource names, wherever it names one."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "secretName" and isinstance(value, str):
                found.append(value)
            elif key in _NAMING_KEYS and isinstance(value, dict) and "name" in value:
                found.append(value["name"])
            elif key == "secretTargetRef":
                found += [ref["name"] for ref in value]
            found += _secret_names(value)
    elif isinstance(node, list):
        for item in node:
            found += _secret_names(item)
    return found


def test_the_base_keeps_the_promises_of_issue_18(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["base"]
    config = {d["metadata"]["name"]: d["data"] for d in _of(docs, "ConfigMap")}
    # Rate limits on: Redis named, and per-customer addresses believed from our proxies.
    assert config["ebok-gateway"]["EBOK_REDIS_URL"].startswith("redis://redis:")
    assert config["ebok-web"]["EBOK_REDIS_URL"].startswith("redis://redis:")
    assert config["ebok-gateway"]["EBOK_TRUST_FORWARDED_FOR"] == "true"
    assert config["ebok-common"]["EBOK_TRUSTED_PROXIES"]
    assert config["ebok-common"]["EBOK_MIGRATE_AT_START"] == "false"
    # The broker's port is the same in the URLs, the egress and the broker's ingress.
    example = (K8S / "secrets.example.yaml").read_text()
    assert set(re.findall(r"amqps?://[^@]+@[^:/]+:(\d+)", example)) == {str(AMQPS_PORT)}
    policies = {d["metadata"]["name"]: d["spec"] for d in _of(docs, "NetworkPolicy")}
    assert policies["broker-from-ebok"]["ingress"][0]["ports"][0]["port"] == AMQPS_PORT
    assert policies["ebok-egress-broker"]["egress"][0]["ports"][0]["port"] == AMQPS_PORT
    assert {"ebok-egress-dns", "notifier-egress-smtp", "ebok-egress-redis"} <= set(policies)
    # / to the portal, /api/ to the gateway.
    (ingress,) = _of(docs, "Ingress")
    routes = {
        p["path"]: p["backend"]["service"]["name"]
        for p in ingress["spec"]["rules"][0]["http"]["paths"]
    }
    assert routes == {"/": "web", "/api/": "gateway"}
    # One Deployment per role, a migrate Job per database, the guard in front of each pod.
    deployments = {d["metadata"]["name"]: d for d in _of(docs, "Deployment")}
    for name in SERVICES:
        for role in ("api", "worker", "relay"):
            deployment = deployments[name if role == "api" else f"{name}-{role}"]
            pod = deployment["spec"]["template"]["spec"]
            assert pod["containers"][0]["args"] == ["serve", "--role", role]
            assert pod["initContainers"][0]["args"][:2] == ["migrate", "--wait"]
    jobs = {d["metadata"]["name"]: d for d in _of(docs, "Job")}
    assert set(jobs) == {f"migrate-{c.name}" for c in COMPONENTS if c.database}
    assert deployments["web"]["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "ebok-web"
    )


def test_every_alert_has_its_runbook() -> None:
    operations = (REPO / "docs" / "operations.md").read_text("utf-8")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', operations))
    assert {a.anchor for a in ALERTS} <= anchors, sorted({a.anchor for a in ALERTS} - anchors)


def test_overlays_set_their_images(rendered: dict[str, list[Doc]]) -> None:
    for overlay, registry in (
        ("dev", "registry.dev.mpwik.com.pl/"),
        ("prod", "registry.mpwik.com.pl/"),
    ):
        for owner, pod in _pods(rendered[f"overlay {overlay}"]):
            for container in pod.get("initContainers", []) + pod["containers"]:
                if container["name"] != "redis":
                    assert container["image"].startswith(registry), (
                        owner["metadata"]["name"],
                        container["image"],
                    )


def test_dev_runs_one_of_everything(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["overlay dev"]
    assert {d["spec"]["replicas"] for d in _of(docs, "Deployment")} == {1}
    assert {d["spec"]["instances"] for d in _of(docs, "Cluster")} == {1}
    assert _of(docs, "HorizontalPodAutoscaler") == [] and _of(docs, "ScaledObject") == []


def test_billing_has_its_payu_settings_and_only_payus_egress(
    rendered: dict[str, list[Doc]],
) -> None:
    """Billing's pods start with payments on (the settings from its ConfigMaps and the
    example Secret load and validate), PayU notifies the gateway's public route and returns
    the customer to the portal, and only billing's api and worker may reach PayU, on 443."""
    from ebok_billing.settings import BillingSettings
    from ebok_gateway.routes import ROUTES

    for overlay, payu in (("prod", manifests.PAYU_URL), ("dev", "https://secure.snd.payu.com")):
        docs = rendered[f"overlay {overlay}"]
        config = {d["metadata"]["name"]: d["data"] for d in _of(docs, "ConfigMap")}
        (deployment,) = [d for d in _of(docs, "Deployment") if d["metadata"]["name"] == "billing"]
        env: dict[str, str] = {}
        for ref in deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]:
            if "configMapRef" in ref:
                env.update(config[ref["configMapRef"]["name"]])
            else:
                env.update(manifests.secrets()[ref["secretRef"]["name"]])
        settings = BillingSettings.from_env(env)
        assert settings.payu_base_url == payu and settings.payu_second_key is not None
        host = next(d for d in _of(docs, "Ingress"))["spec"]["rules"][0]["host"]
        base = f"https://{host}"
        assert settings.payu_continue_url == f"{base}/platnosci"
        path = settings.payu_notify_url.removeprefix(f"{base}/api/v1")
        (route,) = [r for r in ROUTES if r.method == "POST" and r.path == path]
        assert route.service == "billing", route

    policies = {d["metadata"]["name"]: d["spec"] for d in _of(rendered["base"], "NetworkPolicy")}
    payu = policies["billing-egress-payu"]
    (rule,) = payu["egress"]
    assert rule["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert [b["ipBlock"]["cidr"] for b in rule["to"]] == list(manifests.PAYU_CIDRS)
    selector = {e["key"]: e["values"] for e in payu["podSelector"]["matchExpressions"]}
    assert selector == {
        "app.kubernetes.io/name": ["billing"],
        "app.kubernetes.io/component": ["api", "worker"],
    }
    # Nobody else gets a way out to the Internet on 443.
    others = [
        name
        for name, spec in policies.items()
        if name != "billing-egress-payu"
        and any(p.get("port") == 443 for r in spec.get("egress", []) for p in r.get("ports", []))
    ]
    assert others == [], others
