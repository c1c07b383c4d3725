"""docker-compose.yml's optional `tracing` profile (Jaeger) and docker/compose.tracing.yml, which
points the router and every subgraph at it.

Loaded by compose-go as `docker compose [-f ...] --profile tracing config` loads them
(COMPOSE_PROFILES activates the profile). The endpoints must be the ones the code reads:
router/router.yaml's OTLP exporter and shopkit's TRACING_ENDPOINT.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

from static.static_support import (
    COMPOSE_FILE,
    PRODUCTION_OVERRIDE,
    REPO,
    Subgraph,
    load_project,
    read_versions,
    run_composecheck,
    settings_variables,
)
from static.test_delivery_ts_image import OVERRIDE as DELIVERY_TS_OVERRIDE

TRACING_OVERRIDE = REPO / "docker" / "compose.tracing.yml"
PROFILE = {"COMPOSE_PROFILES": "tracing"}
# The image's built-in configuration receives OTLP on the protocol's standard ports.
OTLP_GRPC, OTLP_HTTP = 4317, 4318
TRACING_VARIABLES = {"TRACING_ENDPOINT", "ROUTER_TRACE_SAMPLER", "ROUTER_OTLP_ENDPOINT"}

Services = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def with_profile(gocheck_bin: Path) -> Services:
    services: Services = load_project(gocheck_bin, [COMPOSE_FILE], PROFILE)["services"]
    return services


@pytest.fixture(scope="module")
def traced(gocheck_bin: Path) -> Services:
    services: Services = load_project(gocheck_bin, [COMPOSE_FILE, TRACING_OVERRIDE], PROFILE)["services"]
    return services


def test_jaeger_runs_only_in_the_tracing_profile(services: Services, with_profile: Services) -> None:
    assert "jaeger" not in services
    assert set(with_profile) == {*services, "jaeger"}


def test_the_profile_alone_points_nothing_at_jaeger(services: Services, with_profile: Services) -> None:
    for name, service in with_profile.items():
        assert not TRACING_VARIABLES & set(service.get("environment") or {}), name
    assert {name: s for name, s in with_profile.items() if name != "jaeger"} == services


def test_the_override_without_the_profile_is_refused(gocheck_bin: Path) -> None:
    result = run_composecheck(gocheck_bin, [COMPOSE_FILE, TRACING_OVERRIDE])
    assert result.returncode != 0
    assert 'depends on undefined service "jaeger"' in result.stderr


def test_every_subgraph_sends_its_spans_to_jaeger_over_otlp_http(
    traced: Services, subgraphs: list[Subgraph]
) -> None:
    for subgraph in subgraphs:
        service = traced[subgraph.name]
        assert service["environment"]["TRACING_ENDPOINT"] == f"http://jaeger:{OTLP_HTTP}", subgraph.name
        assert service["depends_on"]["jaeger"]["condition"] == "service_healthy"
        # The variable the service's settings read (shopkit.settings), as the local stack sets it.
        assert "TRACING_ENDPOINT" in settings_variables(subgraph.name)


def test_the_router_samples_and_sends_its_spans_to_jaeger_over_otlp_grpc(traced: Services) -> None:
    router = traced["router"]
    otlp = yaml.safe_load((REPO / "router" / "router.yaml").read_text())["telemetry"]["exporters"]["tracing"]
    assert otlp["otlp"]["protocol"] == "grpc"
    assert otlp["otlp"]["endpoint"].startswith("${env.ROUTER_OTLP_ENDPOINT")
    assert otlp["common"]["sampler"] == "${env.ROUTER_TRACE_SAMPLER:-always_off}"
    assert router["environment"]["ROUTER_OTLP_ENDPOINT"] == f"http://jaeger:{OTLP_GRPC}"
    assert router["environment"]["ROUTER_TRACE_SAMPLER"] == "always_on"
    assert router["depends_on"]["jaeger"]["condition"] == "service_healthy"
    # The router refuses to start with an OTEL_EXPORTER_OTLP_* variable (router.yaml).
    assert not [variable for variable in router["environment"] if variable.startswith("OTEL_")]


def test_the_override_changes_nothing_else(with_profile: Services, traced: Services) -> None:
    def untraced(service: dict[str, Any]) -> dict[str, Any]:
        environment = {
            k: v for k, v in (service.get("environment") or {}).items() if k not in TRACING_VARIABLES
        }
        depends_on = {k: v for k, v in (service.get("depends_on") or {}).items() if k != "jaeger"}
        return {**service, "environment": environment, "depends_on": depends_on}

    assert set(traced) == set(with_profile)
    for name in traced:
        assert untraced(traced[name]) == untraced(with_profile[name]), name


def test_jaeger_is_the_pinned_release_and_published_on_loopback(with_profile: Services) -> None:
    jaeger = with_profile["jaeger"]
    # Jaeger releases v1 and v2 together: the Go module v1.76.0 the local stack builds is v2.13.0.
    major, minor, patch = read_versions()["JAEGER_VERSION"].lstrip("v").split(".")
    assert major == "1"
    assert jaeger["image"] == f"jaegertracing/jaeger:2.{int(minor) - 63}.{patch}"
    assert [(p.get("host_ip"), int(p["target"]), int(p["published"])) for p in jaeger["ports"]] == [
        ("127.0.0.1", 16686, 16686)
    ]
    assert jaeger["read_only"] is True
    healthcheck = jaeger["healthcheck"]["test"]
    assert healthcheck[:2] == ["CMD", "wget"]
    assert healthcheck[-1] == "http://127.0.0.1:13133/status"  # the image's healthcheckv2 extension


def test_the_override_combines_with_the_production_and_typescript_ones(gocheck_bin: Path) -> None:
    env = {
        **PROFILE,
        "ADMIN_PASSWORD": "s3cret",
        "DEMO_CUSTOMER_PASSWORD": "s3cret-too",
        "JWT_PRIVATE_KEY_PATH": "/etc/shopgraph/jwt-ed25519.pem",
        "CARD_FINGERPRINT_KEY": "fingerprint-s3cret",
    }
    files = [COMPOSE_FILE, PRODUCTION_OVERRIDE, TRACING_OVERRIDE, DELIVERY_TS_OVERRIDE]
    services = load_project(gocheck_bin, files, env)["services"]
    assert services["delivery"]["build"]["dockerfile"] == "subgraphs/delivery-ts/Dockerfile"
    assert services["delivery"]["environment"]["TRACING_ENDPOINT"] == f"http://jaeger:{OTLP_HTTP}"
    assert services["router"]["environment"]["ROUTER_TRACE_SAMPLER"] == "always_on"
    assert services["users"]["environment"]["JWT_PRIVATE_KEY_FILE"] == "/run/secrets/jwt_private_key"
