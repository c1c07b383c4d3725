"""The chart's metrics and traces: Prometheus scrape annotations on every pod that serves
metrics, and the `tracing` values that point the router and the subgraphs at an OTLP collector.

Rendered with the real helm (no cluster); what the annotations and variables must say is read
from the code that serves and reads them: router/router.yaml, shopkit's http.py and settings.
"""

import ast
from pathlib import Path
from typing import Any

import pytest
from kubernetes_validate import utils as kubernetes_validate  # type: ignore[import-untyped]

from static.helm_support import (
    CHART,
    RELEASE,
    Manifest,
    Pod,
    allowed,
    by_kind,
    component,
    env_of,
    load_yaml,
    pod_spec,
    release_pod,
    run_helm,
    template,
)
from static.static_support import REPO
from static.test_helm import KUBERNETES_VERSIONS, PROFILES, SUBGRAPHS, profile_flags

SHOPKIT_HTTP = REPO / "libs" / "shopkit" / "src" / "shopkit" / "http.py"
SCRAPE_KEYS = {"prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"}
TRACING_VALUES = {
    "tracing.enabled": "true",
    "tracing.otlpHttpEndpoint": "http://collector.tracing:4318",
    "tracing.otlpGrpcEndpoint": "http://collector.tracing:4317",
}


def tracing_flags(omit: str | None = None) -> list[str]:
    return [
        item for key, value in TRACING_VALUES.items() if key != omit for item in ("--set", f"{key}={value}")
    ]


MONITORING = Pod(labels={"app": "prometheus"}, namespace_labels={"kubernetes.io/metadata.name": "monitoring"})


@pytest.fixture(scope="module")
def rendered(helm: str, jwt_key: Path) -> dict[str, list[Manifest]]:
    return {profile: template(helm, *profile_flags(profile, jwt_key)) for profile in PROFILES}


def subgraph_metrics_path() -> str:
    """shopkit.http's METRICS_PATH: where every Python subgraph serves its metrics."""
    for node in ast.parse(SHOPKIT_HTTP.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "METRICS_PATH" for target in node.targets
        ):
            assert isinstance(node.value, ast.Constant)
            return str(node.value.value)
    raise AssertionError(f"{SHOPKIT_HTTP} defines no METRICS_PATH")


def router_metrics() -> tuple[str, str]:
    """router.yaml's Prometheus exporter: the variable its listen address comes from, and its path."""
    prometheus = load_yaml(REPO / "router" / "router.yaml")["telemetry"]["exporters"]["metrics"]["prometheus"]
    assert prometheus["enabled"] is True
    listen: str = prometheus["listen"]
    assert listen.startswith("${env.ROUTER_METRICS_LISTEN"), listen
    return "ROUTER_METRICS_LISTEN", prometheus["path"]


def pod_annotations(workload: Manifest) -> dict[str, str]:
    annotations: dict[str, str] = workload["spec"]["template"]["metadata"].get("annotations") or {}
    return annotations


def workloads(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {component(m): m for m in manifests if pod_spec(m) is not None}


# ---- Prometheus scrape annotations ------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_every_pod_serving_metrics_is_annotated_for_scraping(
    rendered: dict[str, list[Manifest]], profile: str
) -> None:
    found = workloads(rendered[profile])
    variable, router_path = router_metrics()
    expected: dict[str, tuple[int, str]] = {}
    router_spec = pod_spec(found["router"])
    assert router_spec is not None
    router_listen = env_of(router_spec["containers"][0])[variable]
    expected["router"] = (int(router_listen.rsplit(":", 1)[1]), router_path)
    for name in SUBGRAPHS:
        spec = pod_spec(found[name])
        assert spec is not None
        expected[name] = (int(env_of(spec["containers"][0])["PORT"]), subgraph_metrics_path())
    for name, (port, path) in expected.items():
        annotations = pod_annotations(found[name])
        assert annotations.get("prometheus.io/scrape") == "true", f"{name} is not marked for scraping"
        assert annotations["prometheus.io/port"] == str(port), name
        assert annotations["prometheus.io/path"] == path, name
        # The annotated port is one the pod's container declares (what a Prometheus pod role sees).
        spec = pod_spec(found[name])
        assert spec is not None
        assert port in {p["containerPort"] for p in spec["containers"][0]["ports"]}, name
    # The in-chart stores serve no metrics: nothing to scrape there.
    for name, workload in found.items():
        if name not in expected:
            assert not SCRAPE_KEYS & set(pod_annotations(workload)), f"{name} serves no metrics"


def test_scrape_annotations_can_be_turned_off_and_keep_the_pods_own(helm: str, jwt_key: Path) -> None:
    manifests = template(
        helm,
        *profile_flags("default", jwt_key),
        "--set",
        "metrics.scrapeAnnotations=false",
        "--set",
        "subgraphs.orders.podAnnotations.team=checkout",
    )
    found = workloads(manifests)
    for name, workload in found.items():
        assert not SCRAPE_KEYS & set(pod_annotations(workload)), name
    assert pod_annotations(found["orders"]) == {"team": "checkout"}
    assert "checksum/config" in pod_annotations(found["router"])
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSIONS[-1], strict=True)


def test_monitoring_peers_may_reach_the_annotated_ports(helm: str, jwt_key: Path, tmp_path: Path) -> None:
    values = tmp_path / "monitoring.yaml"
    values.write_text(
        "networkPolicy:\n  monitoringFrom:\n"
        "    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}\n"
    )
    manifests = template(helm, *profile_flags("dev", jwt_key), "-f", str(values))
    policies = list(by_kind(manifests, "NetworkPolicy").values())
    for name in [*SUBGRAPHS, "router"]:
        workload = workloads(manifests)[name]
        port = int(pod_annotations(workload)["prometheus.io/port"])
        assert allowed(policies, MONITORING, release_pod(manifests, name), port), f"Prometheus -> {name}"


# ---- tracing ---------------------------------------------------------------------------------------


def traced_env(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    found = workloads(manifests)
    result = {}
    for name in [*SUBGRAPHS, "router"]:
        spec = pod_spec(found[name])
        assert spec is not None
        result[name] = env_of(spec["containers"][0])
    return result


@pytest.mark.parametrize("profile", PROFILES)
def test_tracing_is_off_by_default(rendered: dict[str, list[Manifest]], profile: str) -> None:
    env = traced_env(rendered[profile])
    for name in SUBGRAPHS:
        assert "TRACING_ENDPOINT" not in env[name], name
    # router.yaml's own defaults then hold: the sampler is always_off.
    assert "ROUTER_TRACE_SAMPLER" not in env["router"]
    assert "${env.ROUTER_TRACE_SAMPLER:-always_off}" in (REPO / "router" / "router.yaml").read_text()


@pytest.mark.parametrize("profile", PROFILES)
def test_tracing_points_the_router_and_every_subgraph_at_the_collector(
    helm: str, jwt_key: Path, profile: str
) -> None:
    manifests = template(helm, *profile_flags(profile, jwt_key), *tracing_flags())
    env = traced_env(manifests)
    for name in SUBGRAPHS:
        assert env[name]["TRACING_ENDPOINT"] == "http://collector.tracing:4318", name
    # router.yaml exports over gRPC, and only when its sampler samples.
    otlp = load_yaml(REPO / "router" / "router.yaml")["telemetry"]["exporters"]["tracing"]["otlp"]
    assert otlp["protocol"] == "grpc"
    assert otlp["endpoint"].startswith("${env.ROUTER_OTLP_ENDPOINT")
    assert env["router"]["ROUTER_OTLP_ENDPOINT"] == "http://collector.tracing:4317"
    assert env["router"]["ROUTER_TRACE_SAMPLER"] == "always_on"
    # No OTEL_EXPORTER_OTLP_* variable: the router refuses to start with one.
    assert not [variable for variable in env["router"] if variable.startswith("OTEL_")]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("missing", ["tracing.otlpHttpEndpoint", "tracing.otlpGrpcEndpoint"])
def test_tracing_without_an_endpoint_is_refused(helm: str, jwt_key: Path, missing: str) -> None:
    result = run_helm(
        helm,
        "template",
        RELEASE,
        str(CHART),
        *profile_flags("default", jwt_key),
        *tracing_flags(omit=missing),
    )
    assert result.returncode != 0
    assert f"{missing} is required when tracing.enabled" in result.stderr


def test_the_chart_readme_documents_scraping_and_tracing() -> None:
    readme = (CHART / "README.md").read_text()
    for words in ("prometheus.io/scrape", "tracing.enabled", "subgraphs.delivery.implementation"):
        assert words in readme, words
