"""Authorization through the router and at the subgraphs' own `_entities`.

Customer A owns a paid order with its payment and delivery; customer B must
not read any of it, whether by id, through another entity, or by sending A's
entity representations straight to a subgraph. ADMIN reads everything.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from e2e.shop import Account, Graph, Result, Shop


@dataclass(frozen=True)
class Owned:
    owner: Account
    order_id: str
    payment_id: str
    delivery_id: str


@pytest.fixture(scope="module")
def owned(module_shop: Shop) -> Owned:
    owner = module_shop.register("Customer A")
    order, payment = module_shop.paid_order(owner)
    delivery = module_shop.wait_for_delivery(owner.token, order["id"])
    return Owned(owner=owner, order_id=order["id"], payment_id=payment["id"], delivery_id=delivery["id"])


@pytest.fixture(scope="module")
def intruder(module_shop: Shop) -> Account:
    return module_shop.register("Customer B")


def leaks(result: Result, owned: Owned) -> list[str]:
    """A's ids or email, wherever they appear in B's answer's data."""
    text = json.dumps(result.data)
    secrets = [owned.order_id, owned.payment_id, owned.delivery_id, owned.owner.email]
    return [secret for secret in secrets if secret in text]


def assert_forbidden(result: Result, owned: Owned) -> None:
    assert result.status == 200, result.body
    assert "FORBIDDEN" in result.codes, result.body
    assert set(result.codes) <= {"FORBIDDEN"}, result.body
    assert leaks(result, owned) == [], result.body


ROOT_QUERIES = {
    "order": ("OrderDetails", "order_id"),
    "payment": ("Payment", "payment_id"),
    "delivery": ("Delivery", "delivery_id"),
    "payment -> order -> delivery": ("PaymentOrder", "payment_id"),
}


@pytest.mark.parametrize(("operation", "id_field"), ROOT_QUERIES.values(), ids=ROOT_QUERIES.keys())
def test_another_customer_cannot_read_by_id(
    module_shop: Shop, owned: Owned, intruder: Account, operation: str, id_field: str
) -> None:
    result = module_shop.graph.run(operation, {"id": getattr(owned, id_field)}, token=intruder.token)

    assert_forbidden(result, owned)


@pytest.mark.parametrize(("operation", "id_field"), ROOT_QUERIES.values(), ids=ROOT_QUERIES.keys())
def test_the_owner_and_an_admin_can_read_by_id(
    module_shop: Shop, owned: Owned, operation: str, id_field: str
) -> None:
    for reader in (owned.owner, module_shop.admin):
        result = module_shop.graph.run(operation, {"id": getattr(owned, id_field)}, token=reader.token)

        data = result.ok()
        assert next(iter(data.values()))["id"] == getattr(owned, id_field)


def test_another_customer_cannot_read_a_user_and_what_hangs_off_it(
    module_shop: Shop, owned: Owned, intruder: Account
) -> None:
    result = module_shop.graph.run("UserOrders", {"id": owned.owner.id}, token=intruder.token)

    assert_forbidden(result, owned)


def test_an_admin_reads_a_users_orders_payments_and_deliveries(module_shop: Shop, owned: Owned) -> None:
    user = module_shop.graph.run("UserOrders", {"id": owned.owner.id}, token=module_shop.admin.token).ok()[
        "user"
    ]

    assert user["email"] == owned.owner.email
    assert [node["id"] for node in user["orders"]["nodes"]] == [owned.order_id]
    assert [node["id"] for node in user["payments"]["nodes"]] == [owned.payment_id]
    assert [delivery["id"] for delivery in user["deliveries"]] == [owned.delivery_id]


def test_my_orders_show_only_mine(module_shop: Shop, owned: Owned, intruder: Account) -> None:
    mine = module_shop.graph.run("MyOrders", {"first": 50}, token=intruder.token).ok()["me"]

    assert mine["id"] == intruder.id
    assert mine["orders"]["nodes"] == []


def test_another_customer_cannot_cancel_or_pay(module_shop: Shop, owned: Owned, intruder: Account) -> None:
    module_shop.graph.run("CancelOrder", {"id": owned.order_id}, token=intruder.token).failed_with(
        "FORBIDDEN"
    )
    module_shop.pay(intruder, owned.order_id).failed_with("FORBIDDEN")

    order = module_shop.order(owned.owner.token, owned.order_id).ok()["order"]
    assert order["status"] == "PAID"
    assert [p["status"] for p in order["payments"]] == ["CAPTURED"]


def test_no_token_is_unauthenticated(module_shop: Shop, owned: Owned) -> None:
    result = module_shop.graph.run("OrderSummary", {"id": owned.order_id})

    assert "UNAUTHENTICATED" in result.codes, result.body
    assert leaks(result, owned) == []


ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { %s }
}
"""

# For each subgraph: A's representations, and the selection that reads through them.
SUBGRAPH_ENTITIES: dict[str, tuple[str, str]] = {
    "users": ("User", "... on User { id email name }"),
    "orders": ("Order", "... on Order { id status total { amount } customer { id } }"),
    "payments": ("Payment", "... on Payment { id status amount { amount } }"),
    "delivery": ("Delivery", "... on Delivery { id status trackingNumber }"),
}


def representation(typename: str, owned: Owned) -> dict[str, Any]:
    ids = {
        "User": owned.owner.id,
        "Order": owned.order_id,
        "Payment": owned.payment_id,
        "Delivery": owned.delivery_id,
    }
    return {"__typename": typename, "id": ids[typename]}


CONTRIBUTED = {
    "orders: User.orders": ("orders", {"__typename": "User"}, "... on User { orders { nodes { id } } }"),
    "payments: Order.payments": (
        "payments",
        {"__typename": "Order", "total": {"amount": 1, "currency": "USD"}},
        "... on Order { payments { id } amountPaid { amount } balanceDue { amount } }",
    ),
    "payments: User.payments": (
        "payments",
        {"__typename": "User"},
        "... on User { payments { nodes { id } } }",
    ),
    "delivery: Order.delivery": ("delivery", {"__typename": "Order"}, "... on Order { delivery { id } }"),
    "delivery: User.deliveries": ("delivery", {"__typename": "User"}, "... on User { deliveries { id } }"),
}


def key_of(typename: str, owned: Owned) -> str:
    return owned.owner.id if typename == "User" else owned.order_id


@pytest.mark.parametrize("subgraph", SUBGRAPH_ENTITIES.keys())
def test_entities_sent_straight_to_a_subgraph_are_guarded(
    subgraph: str, owned: Owned, intruder: Account, subgraph_urls: Mapping[str, str]
) -> None:
    typename, selection = SUBGRAPH_ENTITIES[subgraph]
    graph = Graph(subgraph_urls[subgraph])
    variables = {"representations": [representation(typename, owned)]}

    as_intruder = graph.execute(ENTITIES % selection, variables, token=intruder.token)
    as_owner = graph.execute(ENTITIES % selection, variables, token=owned.owner.token)

    assert_forbidden(as_intruder, owned)
    assert as_owner.ok()["_entities"][0]["id"] == representation(typename, owned)["id"]


@pytest.mark.parametrize(("subgraph", "stub", "selection"), CONTRIBUTED.values(), ids=CONTRIBUTED.keys())
def test_fields_contributed_to_others_entities_are_guarded(
    subgraph: str,
    stub: dict[str, Any],
    selection: str,
    owned: Owned,
    intruder: Account,
    subgraph_urls: Mapping[str, str],
) -> None:
    graph = Graph(subgraph_urls[subgraph])
    variables = {"representations": [{**stub, "id": key_of(stub["__typename"], owned)}]}

    as_intruder = graph.execute(ENTITIES % selection, variables, token=intruder.token)
    as_owner = graph.execute(ENTITIES % selection, variables, token=owned.owner.token)

    assert_forbidden(as_intruder, owned)
    assert leaks(as_owner, owned), f"the owner should see their own data: {as_owner.body}"
