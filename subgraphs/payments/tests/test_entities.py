"""Federation: Order, Payment and User entities, their authorization, and no N+1."""

from typing import Any

from conftest import Shop

from shopkit.auth import Role

ORDER_FIELDS = """
query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Order {
  id payments { id status amount { amount } } amountPaid { amount currency } balanceDue { amount currency }
} } }
"""
PAYMENT_FIELDS = """
query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Payment { id status order { id } } } }
"""
USER_PAYMENTS = """
query($reps: [_Any!]!, $first: Int, $after: String) { _entities(representations: $reps) { ... on User {
  id payments(first: $first, after: $after) { nodes { id createdAt } pageInfo { hasNextPage endCursor } }
} } }
"""


def order_rep(order_id: str, amount: int = 2500, currency: str = "EUR") -> dict[str, Any]:
    return {"__typename": "Order", "id": order_id, "total": {"amount": amount, "currency": currency}}


async def test_balance_due_comes_from_the_total_the_router_passes(shop: Shop) -> None:
    paid = await shop.place_order("alice", amount=2500)
    unpaid = await shop.place_order("alice", amount=1200)
    payment_id = (await shop.pay(paid, as_user="alice"))["data"]["payOrder"]["id"]

    body = await shop.gql(
        ORDER_FIELDS, {"reps": [order_rep(paid, 3000), order_rep(unpaid, 1200)]}, as_user="alice"
    )

    assert "errors" not in body, body
    paid_order, unpaid_order = body["data"]["_entities"]
    assert paid_order["payments"] == [{"id": payment_id, "status": "CAPTURED", "amount": {"amount": 2500}}]
    assert paid_order["amountPaid"] == {"amount": 2500, "currency": "EUR"}
    assert paid_order["balanceDue"] == {"amount": 500, "currency": "EUR"}
    assert unpaid_order["payments"] == []
    assert unpaid_order["amountPaid"] == {"amount": 0, "currency": "EUR"}
    assert unpaid_order["balanceDue"] == {"amount": 1200, "currency": "EUR"}


async def test_another_customers_order_is_forbidden_in_entities(shop: Shop) -> None:
    alices = await shop.place_order("alice")
    await shop.pay(alices, as_user="alice")
    bobs = await shop.place_order("bob")

    as_bob = await shop.gql(ORDER_FIELDS, {"reps": [order_rep(alices), order_rep(bobs)]}, as_user="bob")
    as_admin = await shop.gql(ORDER_FIELDS, {"reps": [order_rep(alices)]}, as_user="root", role=Role.ADMIN)
    anonymous = await shop.gql(ORDER_FIELDS, {"reps": [order_rep(alices)]})

    assert as_bob["data"]["_entities"][0] is None
    assert as_bob["data"]["_entities"][1]["id"] == bobs
    # The fields that show something of the order refuse; the first refusal nulls the entity.
    assert as_bob["errors"]
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in as_bob["errors"])
    assert all(e["path"][:2] == ["_entities", 0] for e in as_bob["errors"])
    assert "errors" not in as_admin
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_unpaid_order_shows_nothing_of_its_customer(shop: Shop) -> None:
    # Its payments say whose an order is; with none, there is nothing of anyone to show:
    # what Bob sees of Alice's unpaid order is what he sees of an order id he made up.
    alices = await shop.place_order("alice")

    body = await shop.gql(ORDER_FIELDS, {"reps": [order_rep(alices, amount=2500)]}, as_user="bob")

    assert "errors" not in body, body
    assert body["data"]["_entities"][0] == {
        "id": alices,
        "payments": [],
        "amountPaid": {"amount": 0, "currency": "EUR"},
        "balanceDue": {"amount": 2500, "currency": "EUR"},
    }


async def test_an_order_payments_has_not_heard_of_yet_has_nothing_paid(shop: Shop) -> None:
    # Its order.placed may still be on its way; a list of orders must show all the same.
    body = await shop.gql(ORDER_FIELDS, {"reps": [order_rep("0" * 32, amount=2500)]}, as_user="alice")

    assert body == {
        "data": {
            "_entities": [
                {
                    "id": "0" * 32,
                    "payments": [],
                    "amountPaid": {"amount": 0, "currency": "EUR"},
                    "balanceDue": {"amount": 2500, "currency": "EUR"},
                }
            ]
        }
    }


async def test_payments_are_visible_to_their_payer_and_admins_only(shop: Shop) -> None:
    order_id = await shop.place_order("alice")
    payment_id = (await shop.pay(order_id, as_user="alice"))["data"]["payOrder"]["id"]
    reps = {"reps": [{"__typename": "Payment", "id": payment_id}]}
    query = "query($id: ID!) { payment(id: $id) { id status payer { id } } }"

    own = await shop.gql(query, {"id": payment_id}, as_user="alice")
    other = await shop.gql(query, {"id": payment_id}, as_user="bob")
    admin = await shop.gql(query, {"id": payment_id}, as_user="root", role=Role.ADMIN)
    missing = await shop.gql(query, {"id": "f" * 32}, as_user="alice")
    entity_own = await shop.gql(PAYMENT_FIELDS, reps, as_user="alice")
    entity_other = await shop.gql(PAYMENT_FIELDS, reps, as_user="bob")

    assert own["data"]["payment"] == {"id": payment_id, "status": "CAPTURED", "payer": {"id": "alice"}}
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert admin["data"]["payment"]["id"] == payment_id
    assert missing == {"data": {"payment": None}}
    assert entity_own["data"]["_entities"] == [
        {"id": payment_id, "status": "CAPTURED", "order": {"id": order_id}}
    ]
    assert entity_other["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_user_payments_page_newest_first(shop: Shop) -> None:
    paid = []
    for _ in range(5):
        order_id = await shop.place_order("alice")
        paid.append((await shop.pay(order_id, as_user="alice"))["data"]["payOrder"]["id"])
    reps = [{"__typename": "User", "id": "alice"}]

    first = await shop.gql(USER_PAYMENTS, {"reps": reps, "first": 2}, as_user="alice")
    page = first["data"]["_entities"][0]["payments"]
    rest = await shop.gql(
        USER_PAYMENTS, {"reps": reps, "first": 10, "after": page["pageInfo"]["endCursor"]}, as_user="alice"
    )

    newest_first = list(reversed(paid))
    assert [n["id"] for n in page["nodes"]] == newest_first[:2]
    assert page["pageInfo"]["hasNextPage"] is True
    rest_page = rest["data"]["_entities"][0]["payments"]
    assert [n["id"] for n in rest_page["nodes"]] == newest_first[2:]
    assert rest_page["pageInfo"] == {"hasNextPage": False, "endCursor": rest_page["pageInfo"]["endCursor"]}


async def test_user_payments_are_private(shop: Shop) -> None:
    reps = {"reps": [{"__typename": "User", "id": "alice"}]}

    other = await shop.gql(USER_PAYMENTS, reps, as_user="bob")
    admin = await shop.gql(USER_PAYMENTS, reps, as_user="root", role=Role.ADMIN)
    bad_page = await shop.gql(USER_PAYMENTS, {**reps, "first": 0}, as_user="alice")
    bad_cursor = await shop.gql(USER_PAYMENTS, {**reps, "after": "not-a-cursor"}, as_user="alice")

    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert admin["data"]["_entities"][0]["payments"]["nodes"] == []
    assert bad_page["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
