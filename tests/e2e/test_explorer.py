"""The explorers in a real browser with no internet: each subgraph's GraphiQL, and the
composed graph's (the stack's `explorer` program, shopkit.explorer, pointed at the router).

Chromium may reach this machine only (tests/e2e/graphiql.py); a page that needed
a CDN, or a router that refused the explorer's cross-origin requests, fails here.
Screenshots are kept in var/test-artifacts/explorer/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from e2e.graphiql import GraphiQL, OfflineBrowser, offline_browser
from e2e.shop import Account
from stack import REPO_ROOT, Stack

ARTIFACTS = REPO_ROOT / "var" / "test-artifacts" / "explorer"
EXPLORER_START_TIMEOUT_S = 60.0
PRODUCT_SKUS = "{ products { sku } }"

# What the documentation explorer must list on each subgraph's Query, and one operation to run there.
SUBGRAPH_CHECKS = {
    "users": ("me", "{ __typename }", '"Query"'),
    "orders": ("order", PRODUCT_SKUS, '"sku"'),
    "payments": ("payment", "{ __typename }", '"Query"'),
    "delivery": ("trackDelivery", "{ __typename }", '"Query"'),
}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineBrowser]:
    with offline_browser(tmp_path_factory.mktemp("chromium-profile")) as browser:
        yield browser


@pytest.fixture(autouse=True)
def nothing_left_this_machine(browser: OfflineBrowser) -> Iterator[None]:
    browser.foreign_requests.clear()
    yield
    assert not browser.foreign_requests, f"the page needed the internet: {browser.foreign_requests}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + EXPLORER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the explorer exited:\n{log.read_text()}"
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(
        f"the explorer did not answer {url} in {EXPLORER_START_TIMEOUT_S:.0f}s:\n{log.read_text()}"
    )


@pytest.fixture(scope="module")
def graph_explorer_url(router_name: str, router_url: str, stack_control: Stack) -> Iterator[str]:
    """The stack's explorer, which queries its first router; for the other router the
    same program is started on a free port, pointed at it."""
    config = stack_control.config
    if router_url == config.explorer_graph_url:
        yield config.explorer_url
        return
    port = free_port()
    log = config.stack_dir / "logs" / f"explorer-{router_name}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env |= {"GRAPH_URL": router_url, "PORT": str(port)}
    command = ["uv", "run", "--frozen", "--project", "libs/shopkit", "python", "-m", "shopkit.explorer"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("subgraph", sorted(SUBGRAPH_CHECKS))
def test_each_subgraph_serves_a_working_graphiql_offline(
    subgraph: str, subgraph_urls: dict[str, str], browser: OfflineBrowser
) -> None:
    field, operation, expected = SUBGRAPH_CHECKS[subgraph]
    explorer = GraphiQL(browser.new_page(), subgraph_urls[subgraph])
    assert field in explorer.root_query_fields()
    explorer.run(operation, expected)
    explorer.screenshot(ARTIFACTS / f"subgraph-{subgraph}.png")


def test_the_composed_graph_explorer_queries_the_router_with_the_users_token(
    router_name: str, graph_explorer_url: str, customer: Account, browser: OfflineBrowser
) -> None:
    explorer = GraphiQL(browser.new_page(), graph_explorer_url)
    assert "order" in explorer.root_query_fields()
    result = explorer.run(PRODUCT_SKUS, '"sku"')
    assert '"errors"' not in result
    # A token entered in the Headers tab reaches the subgraphs: the router's CORS
    # lets the explorer's origin send Authorization, and its CSRF check lets it through.
    explorer.set_headers({"Authorization": f"Bearer {customer.token}"})
    explorer.run("{ me { email } }", customer.email)
    explorer.screenshot(ARTIFACTS / f"graph-{router_name}.png")
