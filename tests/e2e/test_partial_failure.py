"""Partial failure (issue 3): one subgraph stopped, the rest of the graph answers.

With delivery stopped, the order-details query still returns what users,
orders and payments own, `delivery` comes back null, and an error names the
failed subgraph; the router stays healthy and queries that do not touch
delivery are unaffected. Once delivery is back, the full answer returns.
The stack is always restored, whatever happens.
"""

import httpx
import pytest

from e2e.shop import Account, Result, Shop, eventually
from stack import Stack

FAILED = "delivery"


def names_subgraph(error: dict[str, object], subgraph: str, subgraph_url: str) -> bool:
    """Apollo Router puts the subgraph's name in `extensions.service` and the message;
    Apollo Gateway names it in the message or by its URL."""
    extensions = error.get("extensions") or {}
    assert isinstance(extensions, dict)
    named = {str(extensions.get("service")), str(extensions.get("serviceName"))}
    message = str(error.get("message", ""))
    return (
        subgraph in named
        or subgraph in message
        or subgraph_url.rstrip("/").removesuffix("/graphql") in message
    )


@pytest.fixture(scope="module")
def paid_order(module_shop: Shop) -> tuple[Account, str]:
    customer = module_shop.register("Partial Failure")
    order, _ = module_shop.paid_order(customer)
    module_shop.wait_for_delivery(customer.token, order["id"])
    return customer, order["id"]


def test_a_stopped_subgraph_fails_only_its_part(
    module_shop: Shop,
    paid_order: tuple[Account, str],
    stack_control: Stack,
    router_health_url: str,
    subgraph_urls: dict[str, str],
) -> None:
    customer, order_id = paid_order
    stack_control.stop(*stack_control.config.processes(FAILED))
    try:
        result = module_shop.graph.run("OrderDetails", {"id": order_id}, token=customer.token)

        assert result.status == 200, result.body
        order = (result.data or {}).get("order")
        assert order is not None, f"the healthy subgraphs' data is missing: {result.body}"
        assert order["id"] == order_id
        assert order["status"] == "PAID"
        assert order["customer"]["email"] == customer.email
        assert order["items"][0]["product"]["name"]
        assert [p["status"] for p in order["payments"]] == ["CAPTURED"]
        assert order["balanceDue"]["amount"] == 0
        assert order["delivery"] is None
        assert result.errors, "no error reported for the stopped subgraph"
        assert any(names_subgraph(e, FAILED, subgraph_urls[FAILED]) for e in result.errors), result.errors

        assert httpx.get(router_health_url, timeout=5.0).status_code == 200
        untouched = module_shop.graph.run("OrderSummary", {"id": order_id}, token=customer.token)
        assert untouched.ok()["order"]["status"] == "PAID"
        assert module_shop.graph.run("Products").ok()["products"]
    finally:
        stack_control.start(*stack_control.config.processes(FAILED))

    def full_answer() -> Result:
        return module_shop.graph.run("OrderDetails", {"id": order_id}, token=customer.token)

    restored = eventually(full_answer, lambda r: not r.errors, "the full answer after delivery restarted")
    assert restored.ok()["order"]["delivery"]["status"] == "SCHEDULED"
