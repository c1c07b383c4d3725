"""In the production profile, errors a client can act on keep their message and code.

The subgraphs mask every internal error as "Internal server error." themselves
(shopkit.errors), so the production router and gateway pass subgraph messages
through and keep only the extensions a client acts on (code, field, retry hints):
never the service's name. Each runs here in its production profile in front of
the test stack's subgraphs, and the canonical bad inputs go through it.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_router_config import running_production_router

from e2e.shop import CARD_OK, DEFAULT_ADDRESS, Graph, Result, Shop, card, sign_in
from stack import Stack

CLIENT_EXTENSIONS = {"code", "field", "retryable", "retryAfterSeconds"}


@pytest.fixture(scope="module", params=["router", "gateway"])
def production_graph(request: pytest.FixtureRequest, stack_control: Stack) -> Iterator[Graph]:
    subgraphs = {name: stack_control.config.url(name) for name in ("users", "orders", "payments", "delivery")}
    with running_production_router(request.param, subgraphs) as url, httpx.Client(timeout=60.0) as client:
        yield Graph(url, client)


@pytest.fixture(scope="module")
def production_shop(production_graph: Graph, stack_control: Stack) -> Shop:
    config = stack_control.config
    return Shop(
        graph=production_graph, admin=sign_in(production_graph, config.admin_email, config.admin_password)
    )


def only_error(result: Result) -> dict[str, Any]:
    assert result.status == 200, result.body
    [error] = result.errors
    assert set(error.get("extensions", {})) <= CLIENT_EXTENSIONS, error
    assert "redacted" not in error["message"].lower(), error
    return error


def test_a_wrong_password_says_so(production_graph: Graph) -> None:
    error = only_error(
        production_graph.run("Login", {"email": "nobody@example.com", "password": "wrong-password"})
    )
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"]


def test_a_quantity_out_of_range_names_the_field(production_shop: Shop) -> None:
    customer = production_shop.register()
    variables = {
        "input": {"items": [{"sku": "PEN-GEL-12", "quantity": 0}], "shippingAddress": DEFAULT_ADDRESS}
    }
    error = only_error(production_shop.graph.run("PlaceOrder", variables, token=customer.token))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "quantity" in error["message"].lower() or "quantity" in str(error["extensions"].get("field"))


def test_an_unknown_sku_says_which(production_shop: Shop) -> None:
    customer = production_shop.register()
    sku = f"NO-SUCH-{uuid.uuid4().hex[:6].upper()}"
    variables = {"input": {"items": [{"sku": sku, "quantity": 1}], "shippingAddress": DEFAULT_ADDRESS}}
    error = only_error(production_shop.graph.run("PlaceOrder", variables, token=customer.token))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert sku in error["message"]


def test_an_illegal_transition_is_a_conflict_with_its_reason(production_shop: Shop) -> None:
    customer = production_shop.register()
    order = production_shop.place_order(customer)
    production_shop.graph.run("CancelOrder", {"id": order["id"]}, token=customer.token).ok()

    error = only_error(production_shop.graph.run("CancelOrder", {"id": order["id"]}, token=customer.token))
    assert error["extensions"]["code"] == "CONFLICT"
    assert "cancel" in error["message"].lower()


def test_an_order_payments_does_not_know_yet_is_retryable(production_shop: Shop) -> None:
    customer = production_shop.register()
    variables = {
        "input": {"orderId": uuid.uuid4().hex, "card": card(CARD_OK), "idempotencyKey": uuid.uuid4().hex}
    }
    error = only_error(production_shop.graph.run("PayOrder", variables, token=customer.token))
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["retryable"] is True
    assert error["extensions"]["retryAfterSeconds"] > 0
