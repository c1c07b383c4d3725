"""Operations: liveness, readiness that follows the stores, and Prometheus metrics.

`/health/live` answers 200 while the process serves; `/health/ready` answers 200 with
`{"status": "ready", "checks": {...}}` only while every store answers, 503 `unavailable` otherwise;
meanwhile operations that need the store are refused as retryable SERVICE_UNAVAILABLE.
`/metrics` is the Prometheus text format with the counters the project's tests and dashboards read.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import redis

from contract.implementations import Implementation
from contract.orders import OrdersStandIn
from contract.processes import start_redis
from contract.queries import data_of
from contract.service import Delivery, running_delivery
from contract.streams import DELIVERY_STREAM, PAYMENTS_STREAM, eventually, payment_captured, publish
from contract.tokens import Caller

SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{[^}]*\})?"
    r" (?P<value>[-+]?(?:[0-9.e+-]+|NaN|Inf))( [0-9]+)?$"
)
COMMENT = re.compile(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$")


def samples(text: str) -> dict[str, float]:
    """Each sample line of a Prometheus text exposition, `name{labels}` -> value; fails on anything else."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if not line or COMMENT.match(line):
            continue
        match = SAMPLE.match(line)
        assert match, f"not Prometheus text format: {line!r}"
        found[match["name"] + (match["labels"] or "")] = float(match["value"])
    return found


def test_liveness(delivery: Delivery) -> None:
    response = httpx.get(f"{delivery.base_url}/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "live"}


def test_readiness_reports_its_checks(delivery: Delivery) -> None:
    response = httpx.get(f"{delivery.base_url}/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]
    assert all(value is True for value in body["checks"].values())


def test_without_its_store_it_is_unready_and_answers_retryable_service_unavailable(
    implementation: Implementation, jwks_url: str, orders: OrdersStandIn, log_dir: Path, admin: Caller
) -> None:
    own_dir = log_dir / "store-outage"
    own_dir.mkdir(exist_ok=True)
    server = start_redis(own_dir)
    try:
        with running_delivery(
            implementation, server, jwks_url, orders.url, own_dir, name="delivery-outage"
        ) as instance:
            ready = f"{instance.base_url}/health/ready"
            lookup = ("query($id: ID!) { delivery(id: $id) { id } }", {"id": uuid.uuid4().hex})
            assert data_of(instance.graphql(*lookup, admin)) == {"delivery": None}
            server.process.stop()

            eventually(lambda: httpx.get(ready, timeout=5).status_code == 503, what="503 without Redis")
            body = httpx.get(ready, timeout=5).json()
            assert body["status"] == "unavailable"
            assert False in body["checks"].values()
            assert httpx.get(f"{instance.base_url}/health/live", timeout=5).status_code == 200
            refused = instance.graphql(*lookup, admin)
            assert refused["data"] == {"delivery": None}, refused
            [error] = refused["errors"]
            assert (
                error["message"] == "A store this operation needs cannot be reached right now; retry shortly."
            )
            assert error["extensions"] == {
                "code": "SERVICE_UNAVAILABLE",
                "retryable": True,
                "retryAfterSeconds": 1,
            }

            server = start_redis(own_dir, port=server.port)
            eventually(lambda: httpx.get(ready, timeout=5).status_code == 200, what="ready again", timeout=30)
            answered = instance.graphql(*lookup, admin)
            assert answered == {"data": {"delivery": None}}, f"{answered}\n{instance.process.log_tail()}"
    finally:
        server.process.stop()


def test_metrics_in_prometheus_format(
    delivery: Delivery, events: redis.Redis, customer: Caller, store: redis.Redis
) -> None:
    order_id = uuid.uuid4().hex
    publish(events, PAYMENTS_STREAM, payment_captured(order_id, customer.user_id))
    eventually(lambda: store.get(f"delivery:by-order:{order_id}"), what="the delivery")
    delivery.graphql(
        "query($n: String!) { trackDelivery(trackingNumber: $n) { id } }", {"n": "SG" + "A" * 16}
    )

    def exposed() -> dict[str, float]:
        found = samples(httpx.get(f"{delivery.base_url}/metrics").text)
        labels = f'outcome="ok",stream="{PAYMENTS_STREAM}",type="payment.captured"'
        handled = f"shopgraph_events_handled_total{{{labels}}}"
        return found if any(_same_sample(name, handled) for name in found) else {}

    response = httpx.get(f"{delivery.base_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = eventually(exposed, what="events_handled on /metrics")
    names = {name.partition("{")[0] for name in found}
    # The counters the N+1 tests and dashboards read (docs/architecture.md, libs/shopkit metrics).
    assert {
        "shopgraph_store_calls_total",
        "shopgraph_store_commands_total",
        "shopgraph_events_handled_total",
        "shopgraph_worker_up",
    } <= names
    assert any(
        name.startswith("shopgraph_store_commands_total") and 'store="redis"' in name for name in found
    )
    assert sum(value for name, value in found.items() if name.startswith("shopgraph_store_calls_total")) > 0


def test_as_its_streams_producer_it_reports_what_consumer_groups_left_undone(
    delivery: Delivery, events: redis.Redis, customer: Caller, store: redis.Redis
) -> None:
    group = f"contract-{uuid.uuid4().hex[:8]}"
    # A consumer of delivery's stream (orders, in the shop), from its start.
    events.xgroup_create(DELIVERY_STREAM, group, id="0", mkstream=True)
    order_id = uuid.uuid4().hex
    publish(events, PAYMENTS_STREAM, payment_captured(order_id, customer.user_id))
    eventually(lambda: store.get(f"delivery:by-order:{order_id}"), what="the delivery")
    events.xreadgroup(group, "reader", {DELIVERY_STREAM: ">"}, count=1)

    def reported() -> dict[str, float]:
        found = samples(httpx.get(f"{delivery.base_url}/metrics").text)
        labels = f'group="{group}",stream="{DELIVERY_STREAM}"'
        wanted = {
            "pending": f"shopgraph_consumer_pending{{{labels}}}",
            "dead": f"shopgraph_dead_letters{{{labels}}}",
            "lag": f"shopgraph_consumer_lag{{{labels}}}",
        }
        values = {
            key: next((v for n, v in found.items() if _same_sample(n, name)), -1.0)
            for key, name in wanted.items()
        }
        return values if values["pending"] == 1 else {}

    values = eventually(reported, what="the group's pending entry on /metrics")
    assert (values["pending"], values["dead"]) == (1, 0)
    assert values["lag"] >= 0  # all the stream's entries but the one read (more may have come)
    events.xgroup_destroy(DELIVERY_STREAM, group)


def _same_sample(exposed: str, wanted: str) -> bool:
    """The same metric and labels, whatever order the labels are printed in."""

    def key(sample: str) -> tuple[str, frozenset[str]]:
        name, _, labels = sample.partition("{")
        return name, frozenset(labels.rstrip("}").split(",")) if labels else frozenset()

    return key(exposed) == key(wanted)


def test_a_browser_gets_graphiql_from_the_service_itself(delivery: Delivery) -> None:
    page = httpx.get(delivery.graphql_url, headers={"accept": "text/html"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="graphiql"' in page.text
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert len(assets) >= 4, page.text
    for path in assets:  # served here, not from a CDN
        asset = httpx.get(f"{delivery.base_url}{path}")
        assert asset.status_code == 200, path
        assert asset.content, path
    # GraphiQL reads the schema by introspection.
    introspected = delivery.graphql("{ __schema { queryType { fields { name } } } }")
    fields = {field["name"] for field in data_of(introspected)["__schema"]["queryType"]["fields"]}
    assert {"delivery", "trackDelivery"} <= fields
