"""Monitoring: stop delivery, and its lag alert goes pending in Prometheus.

With both delivery processes stopped, an order placed and paid leaves events on
the orders and payments streams that the `delivery` consumer group has not
read. Their producers report that lag on /metrics (shopgraph_consumer_lag), the
stack's Prometheus scrapes it, and ConsumerLagging (monitoring/rules.yml) goes
pending for the group; it fires only after 2 minutes, which this test does not
wait for. Once delivery is back it catches up, and the alert is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from e2e.prometheus import alerts, scraped_shop
from e2e.shop import Shop, eventually
from faults.checks import place_and_pay, wait_until_all_delivered
from stack import Stack

ALERT = "ConsumerLagging"
GROUP = "delivery"
# A few scrape and evaluation intervals of the test stack (2 s each), with room for a loaded machine.
ALERT_DEADLINE_S = 60.0


def lag_alerts(prometheus_url: str) -> list[dict[str, Any]]:
    """The ConsumerLagging alerts of the delivery group, pending or firing."""
    return [
        alert
        for alert in alerts(prometheus_url)
        if alert["labels"]["alertname"] == ALERT and alert["labels"].get("group") == GROUP
    ]


@pytest.fixture(scope="module")
def shop(stack_control: Stack) -> Iterator[Shop]:
    """Once, on one router: the alert does not depend on which router places the order."""
    with scraped_shop(stack_control) as shop:
        yield shop


def test_stopping_delivery_makes_its_lag_alert_go_pending(shop: Shop, stack_control: Stack) -> None:
    config = stack_control.config
    prometheus = config.prometheus_url
    eventually(lambda: lag_alerts(prometheus), lambda alerts: not alerts, "no lag alert before the stop")

    delivery = config.processes("delivery")
    stack_control.stop(*delivery)
    try:
        burst = place_and_pay(shop, 1, customers=1)
        alerts = eventually(
            lambda: lag_alerts(prometheus),
            lambda alerts: bool(alerts),
            f"{ALERT} for group {GROUP}",
            deadline=ALERT_DEADLINE_S,
        )
        assert {alert["state"] for alert in alerts} == {"pending"}, alerts
        assert {alert["labels"]["stream"] for alert in alerts} <= {
            "shopgraph.events.orders",
            "shopgraph.events.payments",
        }
        assert all(float(alert["value"]) >= 1 for alert in alerts), alerts
    finally:
        stack_control.start(*delivery)

    wait_until_all_delivered(shop, burst)
    eventually(
        lambda: lag_alerts(prometheus),
        lambda alerts: not alerts,
        f"{ALERT} to clear once delivery caught up",
        deadline=ALERT_DEADLINE_S,
    )
