"""The root test harness: a throwaway stack for the end-to-end tests.

The first test that asks for `stack_control` (or anything built on it) starts a
complete stack under supervisord, exactly as `make up` does, but in
var/test-stack and on other ports, so `make test` never touches a developer's
`make up` data. Both router implementations run side by side: the Apollo Router
on 14000 and Apollo Gateway on 14010. Tests that take `router_url` (or
`graphql`) run once per implementation. The stack is stopped when the session
ends; its logs stay in var/test-stack/logs for a post-mortem, and it is wiped
when the next session starts.

Fixtures:
  stack_control  the `Stack` controller: start/stop/restart/kill(program), state(program), config
  router_name    "router" (Apollo Router) or "gateway" (Apollo Gateway), parametrized
  router_url     that router's GraphQL URL
  graphql        `graphql(query, variables=None, token=None)` -> response body; asserts HTTP 200
  accounts       mints real tokens through the router: register(), login(), admin()
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import Accounts, GraphQL, post_graphql
from stack import ROUTERS, Stack, StackConfig

# The fixtures the end-to-end, fault and event suites share (shop, stores, URLs).
pytest_plugins = ["e2e.fixtures"]

TEST_STACK_ENV = {
    "STACK_DIR": "var/test-stack",
    "ROUTER_PROFILE": "dev",  # subgraph errors are asserted on, so they must not be redacted
    "ROUTER_PORT": "14000",
    "GATEWAY_PORT": "14010",
    "USERS_PORT": "14001",
    "ORDERS_PORT": "14002",
    "PAYMENTS_PORT": "14003",
    "DELIVERY_PORT": "14004",
    # Delivery runs as two processes on one Redis: the Apollo Router queries the first,
    # Apollo Gateway the second, and both consume events (tests/faults/test_two_deliveries.py).
    "DELIVERY_PROCESSES": "2",
    "DELIVERY2_PORT": "14005",
    # The implementation each delivery process runs (docs/polyglot.md): Python unless
    # SHOPGRAPH_TEST_DELIVERY_IMPL=ts (both) or SHOPGRAPH_TEST_DELIVERY2_IMPL=ts (the second).
    "DELIVERY_IMPL": os.environ.get("SHOPGRAPH_TEST_DELIVERY_IMPL", "python"),
    "DELIVERY2_IMPL": os.environ.get(
        "SHOPGRAPH_TEST_DELIVERY2_IMPL", os.environ.get("SHOPGRAPH_TEST_DELIVERY_IMPL", "python")
    ),
    "EXPLORER_PORT": "14080",
    # Prometheus scrapes and evaluates every 2 s, so an alert goes pending within seconds
    # (tests/faults/test_lag_alert.py) and the dashboard has data (tests/e2e/test_dashboard.py).
    "MONITORING": "1",
    "MONITORING_INTERVAL": "2",
    "PROMETHEUS_PORT": "19190",
    # Every process exports its spans to Jaeger (tests/e2e/test_traces.py reads one checkout's trace).
    "TRACING": "1",
    "JAEGER_PORT": "26686",
    "JAEGER_GRPC_PORT": "26685",
    "JAEGER_OTLP_GRPC_PORT": "24317",
    "JAEGER_OTLP_HTTP_PORT": "24318",
    "REDIS_PORT": "16379",
    "FERRETDB_PORT": "17017",
    "POSTGRESQL_PORT": "17018",
    "ROUTER_HEALTH_PORT": "18088",
    "GATEWAY_HEALTH_PORT": "18089",
    "ROUTER_METRICS_PORT": "19080",
    "ADMIN_EMAIL": "admin@example.com",
    "ADMIN_PASSWORD": "test-admin-password",
}

# Which router implementations the e2e tests run against. Both, always, in CI;
# a developer may narrow it (SHOPGRAPH_TEST_ROUTERS=gateway) for a quicker loop.
TEST_ROUTERS = tuple(os.environ.get("SHOPGRAPH_TEST_ROUTERS", ",".join(ROUTERS)).split(","))


def make_test_stack_config() -> StackConfig:
    config = StackConfig.from_env(TEST_STACK_ENV)
    return replace(config, routers=TEST_ROUTERS)


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Holds an exclusive lock on the file: one test session at a time owns the test stack."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[test stack] another test session is using it; waiting for {lock_file}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def stack_control() -> Iterator[Stack]:
    stack = Stack(make_test_stack_config(), log=lambda line: print(f"[test stack] {line}"))
    # The test stack's ports are the machine's: the lock is too, across clones of the repository.
    lock_file = Path(tempfile.gettempdir()) / f"shopgraph-test-stack-{stack.config.ports['router']}.lock"
    with exclusive(lock_file):
        stack.shutdown()  # a previous session that crashed may have left it running
        shutil.rmtree(stack.config.stack_dir, ignore_errors=True)
        try:
            stack.up()
            yield stack
        finally:
            stack.shutdown()


@pytest.fixture(scope="session", params=TEST_ROUTERS)
def router_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def router_url(stack_control: Stack, router_name: str) -> str:
    return stack_control.config.url(router_name)


@pytest.fixture(scope="session")
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60.0) as client:
        yield client


@pytest.fixture(scope="session")
def graphql(http_client: httpx.Client, router_url: str) -> GraphQL:
    def run(query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        return post_graphql(http_client, router_url, query, variables, token)

    return run


@pytest.fixture(scope="session")
def accounts(graphql: GraphQL, stack_control: Stack) -> Accounts:
    config = stack_control.config
    return Accounts(graphql, config.admin_email, config.admin_password)
