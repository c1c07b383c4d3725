"""One checkout is one trace: the Apollo Router, the services and the event hops, in Jaeger.

The test stack runs with TRACING=1. A client places and pays an order through
the Apollo Router with one `traceparent`, as a storefront's own trace would;
the trace Jaeger then holds must have the router's spans, each service's
request under a router span, and every consumer's handling of the checkout's
events under the span of the service that wrote the event: `order.placed` →
payments, `payment.captured` → delivery and orders, `delivery.scheduled` →
orders. A hop that started a trace of its own, or hung its span anywhere but
under its producer, fails it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from e2e.jaeger import TraceSpan, trace_spans
from e2e.shop import Graph, Shop, eventually, sign_in
from stack import Stack

ROUTER_SERVICE = "shopgraph-router"
# Generous: spans leave each process within a second or two, but the machine may be loaded.
TRACE_DEADLINE = 90.0


@dataclass(frozen=True)
class Hop:
    """A span of `service` named `name` (of `kind`) whose parent is a span of `parent_service`."""

    service: str
    name: str
    kind: str
    parent_service: str

    def __str__(self) -> str:
        return f"{self.parent_service} → {self.service} ({self.kind} span {self.name!r})"


CHECKOUT_HOPS = (
    Hop("orders", "POST /graphql", "server", ROUTER_SERVICE),
    Hop("payments", "POST /graphql", "server", ROUTER_SERVICE),
    Hop("payments", "handle order.placed", "consumer", "orders"),
    Hop("delivery", "handle payment.captured", "consumer", "payments"),
    Hop("orders", "handle payment.captured", "consumer", "payments"),
    Hop("orders", "handle delivery.scheduled", "consumer", "delivery"),
)


def missing_hops(spans: list[TraceSpan]) -> list[Hop]:
    by_id = {span.span_id: span for span in spans}

    def found(hop: Hop) -> bool:
        return any(
            (span.service, span.name, span.kind) == (hop.service, hop.name, hop.kind)
            and span.parent_id in by_id
            and by_id[span.parent_id].service == hop.parent_service
            for span in spans
        )

    return [hop for hop in CHECKOUT_HOPS if not found(hop)]


@pytest.fixture(scope="module")
def router_shop(stack_control: Stack) -> Iterator[Shop]:
    """A Shop on the Apollo Router: the router whose own spans are in the trace."""
    config = stack_control.config
    assert "router" in config.routers, "the trace test needs the Apollo Router in the test stack"
    assert config.tracing, "the test stack runs with TRACING=1 (tests/conftest.py)"
    with httpx.Client(timeout=60.0) as client:
        graph = Graph(config.url("router"), client)
        yield Shop(graph=graph, admin=sign_in(graph, config.admin_email, config.admin_password))


def test_one_checkout_is_one_trace_across_the_router_the_services_and_the_events(
    router_shop: Shop, stack_control: Stack
) -> None:
    trace_id = secrets.token_hex(16)
    checkout = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    customer = router_shop.register()

    order = router_shop.place_order(customer, headers=checkout)
    payment = router_shop.pay(customer, order["id"], headers=checkout).ok()["payOrder"]
    assert payment["status"] == "CAPTURED", payment
    router_shop.wait_for_order(
        customer.token, order["id"], lambda o: o["status"] == "PAID" and o["delivery"] is not None, "PAID"
    )

    jaeger_url = stack_control.config.jaeger_url
    spans = eventually(
        lambda: trace_spans(jaeger_url, trace_id),
        lambda spans: not missing_hops(spans),
        f"trace {trace_id} to hold every hop of the checkout",
        deadline=TRACE_DEADLINE,
    )
    assert {span.service for span in spans} >= {ROUTER_SERVICE, "orders", "payments", "delivery"}
    # The store calls are spans of the work that made them, not of the polling around it.
    store_spans = [span for span in spans if span.kind == "client" and span.service != ROUTER_SERVICE]
    assert {span.service for span in store_spans} >= {"orders", "payments", "delivery"}


def linked_checkout() -> list[TraceSpan]:
    """The spans of a checkout whose every hop is linked, as Jaeger would return them."""
    router = TraceSpan("r1", None, ROUTER_SERVICE, "http_request", "client")
    orders = TraceSpan("o1", "r1", "orders", "POST /graphql", "server")
    payments = TraceSpan("p1", "r1", "payments", "POST /graphql", "server")
    return [
        router,
        orders,
        payments,
        TraceSpan("p2", "o1", "payments", "handle order.placed", "consumer"),
        TraceSpan("d1", "p1", "delivery", "handle payment.captured", "consumer"),
        TraceSpan("o2", "p1", "orders", "handle payment.captured", "consumer"),
        TraceSpan("o3", "d1", "orders", "handle delivery.scheduled", "consumer"),
    ]


def test_a_hop_under_the_wrong_parent_or_in_a_trace_of_its_own_is_missing() -> None:
    """What the checkout test fails on: the same spans, one hop unlinked."""
    assert missing_hops(linked_checkout()) == []
    placed = CHECKOUT_HOPS[2]
    under_the_router = [
        TraceSpan(s.span_id, "r1", s.service, s.name, s.kind) if s.span_id == "p2" else s
        for s in linked_checkout()
    ]
    assert missing_hops(under_the_router) == [placed]
    in_a_trace_of_its_own = [span for span in linked_checkout() if span.span_id != "p2"]
    assert missing_hops(in_a_trace_of_its_own) == [placed]
