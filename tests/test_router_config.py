"""The router's configuration profiles: valid for the pinned router, licence-free, and consistent.

router/router.yaml is the production profile, router/router.dev.yaml the
development one. Both are validated by the pinned router binary itself; the
production profile is also started (without subgraphs) to prove the router
accepts it without a licence and keeps introspection off. The same is checked
for Apollo Gateway's production mode.
"""

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from stack import REPO_ROOT, ROUTER_BIN, VERSIONS

PROFILES = {"prod": REPO_ROOT / "router/router.yaml", "dev": REPO_ROOT / "router/router.dev.yaml"}
SUPERGRAPH = REPO_ROOT / "router/supergraph.graphql"
START_TIMEOUT_S = 120.0

# Configuration the router only runs with an enterprise licence (apollo-router 2.17,
# src/uplink/license_enforcement.rs).
LICENSED_PATHS = [
    ("authentication",),
    ("authorization",),
    ("batching",),
    ("coprocessor",),
    ("demand_control",),
    ("persisted_queries",),
    ("preview_entity_cache",),
    ("response_cache",),
    ("subscription",),
    ("apq", "router", "cache", "redis"),
    ("supergraph", "query_planning", "cache", "redis"),
    ("limits", "router", "max_depth"),
    ("limits", "router", "max_height"),
    ("limits", "router", "max_aliases"),
    ("limits", "router", "max_root_fields"),
]


def load(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    return config


def lookup(config: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = config
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


@pytest.mark.parametrize("profile", PROFILES)
def test_router_validates_the_profile(profile: str) -> None:
    assert ROUTER_BIN.exists(), f"the router is not built at {ROUTER_BIN}: run `make setup`"
    result = subprocess.run(
        [str(ROUTER_BIN), "config", "validate", str(PROFILES[profile])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_uses_no_licensed_feature(profile: str) -> None:
    config = load(PROFILES[profile])
    used = [".".join(path) for path in LICENSED_PATHS if lookup(config, path) is not None]
    assert used == []


def test_profiles_differ_only_in_the_development_switches() -> None:
    prod, dev = load(PROFILES["prod"]), load(PROFILES["dev"])
    assert (prod["supergraph"]["introspection"], dev["supergraph"]["introspection"]) == (False, True)
    assert (prod["sandbox"]["enabled"], dev["sandbox"]["enabled"]) == (False, True)
    assert dev["include_subgraph_errors"] == {"all": True}
    assert prod["include_subgraph_errors"]["all"] == {
        "redact_message": False,
        "allow_extensions_keys": ["code", "field", "retryable", "retryAfterSeconds"],
    }
    for config in (prod, dev):
        del config["supergraph"]["introspection"], config["sandbox"], config["include_subgraph_errors"]
    assert prod == dev


def test_profiles_forward_auth_and_trace_context_to_every_subgraph() -> None:
    for path in PROFILES.values():
        operations = load(path)["headers"]["all"]["request"]["operations"]
        propagated = {op["propagate"]["named"] for op in operations if "propagate" in op}
        assert propagated == {"authorization", "traceparent", "tracestate", "x-forwarded-for"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(process: subprocess.Popen[bytes], health_url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise AssertionError(f"exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(health_url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{health_url} did not answer in {START_TIMEOUT_S}s")


@contextmanager
def running_production_router(kind: str, subgraph_urls: Mapping[str, str] | None = None) -> Iterator[str]:
    """The Apollo Router or Apollo Gateway (`kind`) in its production profile; yields its GraphQL URL.

    `subgraph_urls` (name → URL) points it at running subgraphs; without them it has none.
    """
    listen, health = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "ROUTER_LISTEN": listen,
        "ROUTER_HEALTH_LISTEN": health,
        "ROUTER_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "ROUTER_PROFILE": "prod",
        "APOLLO_TELEMETRY_DISABLED": "true",
        **{f"{name.upper()}_URL": url for name, url in (subgraph_urls or {}).items()},
    }
    if kind == "router":
        assert ROUTER_BIN.exists(), f"the router is not built at {ROUTER_BIN}: run `make setup`"
        command = [str(ROUTER_BIN), "--config", str(PROFILES["prod"]), "--supergraph", str(SUPERGRAPH)]
    else:
        command = ["node", str(REPO_ROOT / "router/gateway.mjs")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(process, f"http://{health}/health")
        yield f"http://{listen}/"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(params=["router", "gateway"])
def production_router(request: pytest.FixtureRequest) -> Iterator[str]:
    """A router in its production profile, without subgraphs; yields its GraphQL URL."""
    with running_production_router(request.param) as url:
        yield url


def test_production_profile_starts_without_a_licence_and_hides_the_schema(production_router: str) -> None:
    answer = httpx.post(production_router, json={"query": "{ __typename }"}, timeout=10.0)
    assert answer.status_code == 200
    assert answer.json() == {"data": {"__typename": "Query"}}

    introspection = httpx.post(
        production_router, json={"query": "{ __schema { queryType { name } } }"}, timeout=10.0
    ).json()
    assert introspection.get("data") in (None, {"__schema": None})
    assert introspection["errors"]


def test_pinned_versions_agree() -> None:
    """scripts/versions.sh, supergraph.yaml and router/package.json pin one federation version."""
    federation = VERSIONS["FEDERATION_VERSION"]
    supergraph_config = yaml.safe_load((REPO_ROOT / "supergraph.yaml").read_text())
    assert supergraph_config["federation_version"] == f"={federation}"
    dependencies = json.loads((REPO_ROOT / "router/package.json").read_text())["dependencies"]
    for package in ("@apollo/composition", "@apollo/federation-internals", "@apollo/gateway"):
        assert dependencies[package] == federation, package
    assert ROUTER_BIN.parent.parent.name == f"apollo-router-{VERSIONS['ROUTER_VERSION']}"
