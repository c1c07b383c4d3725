"""Rendering deploy/helm/shopgraph with helm, and reading what it rendered (for test_helm.py).

helm is the pinned HELM_VERSION of scripts/versions.sh, built by
scripts/install-helm.sh into the tool cache. Nothing here talks to a cluster.
"""

import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from static.static_support import REPO

CHART = REPO / "deploy" / "helm" / "shopgraph"
DEV_VALUES = CHART / "values-dev.yaml"
INSTALL_HELM = REPO / "scripts" / "install-helm.sh"
RELEASE = "shop"

Manifest = dict[str, Any]


def secret_flags(jwt_key: Path, omit: str | None = None) -> list[str]:
    """--set flags for every secret the chart requires, less the one named `omit`."""
    values = {
        "secrets.users.adminPassword": "admin-password-for-tests",
        "secrets.users.demoCustomerPassword": "customer-password-for-tests",
        "secrets.payments.cardFingerprintKey": "card-fingerprint-key-for-tests",
    }
    flags = [item for key, value in values.items() if key != omit for item in ("--set", f"{key}={value}")]
    if omit != "secrets.users.jwtPrivateKey":
        flags += ["--set-file", f"secrets.users.jwtPrivateKey={jwt_key}"]
    return flags


STORE_URIS = {
    "stores.users.mongodbUri": "mongodb://mongo.example:27017/",
    "stores.orders.mongodbUri": "mongodb://mongo.example:27017/",
    "stores.payments.mongodbUri": "mongodb://mongo.example:27017/",
    "stores.events.redisUrl": "redis://redis.example:6379/0",
    "stores.delivery.redisUrl": "redis://redis.example:6379/1",
}


def store_flags(omit: str | None = None) -> list[str]:
    return [item for key, value in STORE_URIS.items() if key != omit for item in ("--set", f"{key}={value}")]


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, check=False)


def template(helm: str, *flags: str) -> list[Manifest]:
    """`helm template` of the chart with these flags: the rendered objects."""
    result = run_helm(helm, "template", RELEASE, str(CHART), *flags)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def component(manifest: Manifest) -> str:
    labels: Mapping[str, str] = manifest["metadata"]["labels"]
    return labels["app.kubernetes.io/component"]


def pod_spec(manifest: Manifest) -> dict[str, Any] | None:
    if manifest["kind"] in {"Deployment", "StatefulSet"}:
        spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
        return spec
    return None


def pod_labels(manifest: Manifest) -> dict[str, str]:
    labels: dict[str, str] = manifest["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(manifests: list[Manifest]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    """Every (workload, container) pair, init containers included."""
    for manifest in manifests:
        spec = pod_spec(manifest)
        if spec is not None:
            for container in spec.get("initContainers", []) + spec["containers"]:
                yield manifest, container


def env_of(container: Mapping[str, Any]) -> dict[str, Any]:
    """A container's env: name -> the value, or the secretKeyRef/configMapKeyRef it comes from."""
    result: dict[str, Any] = {}
    for entry in container.get("env", []):
        result[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return result


@dataclass(frozen=True)
class Pod:
    """A pod of the release, or `None` labels for a client outside it."""

    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str]


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"evaluator knows only matchLabels: {selector}"
    wanted: Mapping[str, str] = selector.get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())


def _peer_matches(peer: Mapping[str, Any], pod: Pod) -> bool:
    assert "ipBlock" not in peer, "the evaluator has no IPs"
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], pod.namespace_labels):
            return False
    elif pod.namespace_labels.get("kubernetes.io/metadata.name") != "release-namespace":
        return False  # a bare podSelector selects pods of the policy's own namespace
    return "podSelector" not in peer or _selects(peer["podSelector"], pod.labels)


def _rule_allows(rule: Mapping[str, Any], peers_key: str, other: Pod, port: int) -> bool:
    ports = rule.get("ports")
    if ports is not None and not any(
        p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports
    ):
        return False
    peers = rule.get(peers_key)
    return peers is None or any(_peer_matches(peer, other) for peer in peers)


def _direction_allows(policies: list[Manifest], kind: str, subject: Pod, other: Pod, port: int) -> bool:
    """Whether the NetworkPolicies let `subject` take (Ingress) or send (Egress) this traffic."""
    rules_key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    applying = [
        p["spec"]
        for p in policies
        if kind in p["spec"]["policyTypes"]
        and subject.namespace_labels.get("kubernetes.io/metadata.name") == "release-namespace"
        and _selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not applying:
        return True  # no policy isolates this pod in this direction
    return any(
        _rule_allows(rule, peers_key, other, port) for spec in applying for rule in spec.get(rules_key, [])
    )


def allowed(policies: list[Manifest], source: Pod, destination: Pod, port: int) -> bool:
    """TCP from `source` to `destination:port`: both ends' policies must let it through."""
    return _direction_allows(policies, "Egress", source, destination, port) and _direction_allows(
        policies, "Ingress", destination, source, port
    )


RELEASE_NAMESPACE = {"kubernetes.io/metadata.name": "release-namespace"}


def release_pod(manifests: list[Manifest], component_name: str) -> Pod:
    [workload] = [
        m
        for m in manifests
        if pod_spec(m) is not None and pod_labels(m)["app.kubernetes.io/component"] == component_name
    ]
    return Pod(labels=pod_labels(workload), namespace_labels=RELEASE_NAMESPACE)


OUTSIDE_CLIENT = Pod(labels={"app": "someone"}, namespace_labels={"kubernetes.io/metadata.name": "elsewhere"})
CLUSTER_DNS = Pod(
    labels={"k8s-app": "kube-dns"}, namespace_labels={"kubernetes.io/metadata.name": "kube-system"}
)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
