"""The dashboard (monitoring/dashboard) in a real browser with no internet: it draws data.

Traffic first (orders placed and paid, so events flow; queries; one invalid
query, so the errors panel has a series), then Chromium opens the page the
test stack's Prometheus serves at /user/index.html, with every request to
another machine aborted (tests/e2e/graphiql.py), and waits until each panel
has drawn at least one series from Prometheus. The screenshot is kept in
var/test-artifacts/dashboard/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e.graphiql import offline_browser
from e2e.prometheus import instant_query, scraped_shop
from e2e.shop import Shop, eventually
from faults.checks import place_and_pay, wait_until_all_delivered
from stack import REPO_ROOT, Stack

ARTIFACTS = REPO_ROOT / "var" / "test-artifacts" / "dashboard"
# The panels of monitoring/dashboard/dashboard.js; the first three read the Apollo Router's metrics.
ROUTER_PANELS = ("requests", "errors", "latency")
EVENT_PANELS = ("published", "handled", "lag", "pending", "backlog", "up")
DATA_DEADLINE_S = 60.0
# Two of the page's refreshes (every 10 s), and some.
PAGE_TIMEOUT_MS = 25_000
SOME_SERIES = re.compile(r"^[1-9][0-9]*$")
# What the traffic must have moved in Prometheus before the page opens.
FLOWING = (
    "sum(increase(shopgraph_events_published_total[1m]))",
    "sum(rate(shopgraph_events_handled_total[1m]))",
)


@pytest.fixture(scope="module")
def shop(stack_control: Stack) -> Iterator[Shop]:
    """On the router Prometheus scrapes (the Apollo Router), once whichever routers the tests run on."""
    with scraped_shop(stack_control) as shop:
        yield shop


def shop_a_little(shop: Shop) -> None:
    """Orders placed, paid and delivered, a few queries, and one invalid query."""
    burst = place_and_pay(shop, 2)
    for _ in range(5):
        assert shop.graph.execute("{ products { sku } }").ok()
    assert shop.graph.execute("{ noSuchField }").errors
    wait_until_all_delivered(shop, burst)


def wait_for(prometheus_url: str, promql: str, holds: Callable[[float], bool]) -> None:
    """Until the query has one value, and it holds."""
    eventually(
        lambda: instant_query(prometheus_url, promql),
        lambda result: len(result) == 1 and holds(float(result[0]["value"][1])),
        promql,
        deadline=DATA_DEADLINE_S,
    )


def test_the_dashboard_draws_the_graph_and_the_event_flow(
    shop: Shop, stack_control: Stack, tmp_path: Path
) -> None:
    config = stack_control.config
    # A labelled counter appears with its first increment, and rate() starts at its first
    # sample: the first round of traffic makes the series, the second moves them.
    targets = len(config.scrape_targets())
    wait_for(config.prometheus_url, "count(up == 1)", lambda up: up == targets)
    shop_a_little(shop)
    wait_for(config.prometheus_url, "count(shopgraph_events_handled_total)", lambda series: series >= 1)
    shop_a_little(shop)
    for promql in FLOWING:
        wait_for(config.prometheus_url, promql, lambda value: value > 0)
    panels = EVENT_PANELS + (ROUTER_PANELS if "router" in config.routers else ())

    with offline_browser(tmp_path / "chromium-profile") as browser:
        page = browser.new_page()
        page.goto(f"{config.dashboard_url}?range=120")
        for panel in panels:
            drawn = page.locator(f'[data-panel="{panel}"]')
            expect(drawn).to_have_attribute("data-series", SOME_SERIES, timeout=PAGE_TIMEOUT_MS)
            expect(drawn.locator(".uplot canvas")).to_have_count(1)
        expect(page.locator("#alerts .alert").first).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        assert not browser.foreign_requests, f"the page needed the internet: {browser.foreign_requests}"
