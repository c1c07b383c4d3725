"""User.orders: newest first, cursor pagination, and who may list whose orders."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import ADDRESS, GraphQL, Tokens, error_codes, insert_orders, place_order
from pymongo.asynchronous.database import AsyncDatabase

from orders import rules
from orders.config import Settings
from orders.store import CUSTOMER_HISTORY, POSITIONS_MIGRATION, OrderStore
from shopkit.mongo import Document, MongoDB
from shopkit.records import Amount

USER_ORDERS = """
query UserOrders($representations: [_Any!]!, $first: Int, $after: String) {
  _entities(representations: $representations) {
    ... on User {
      id
      orders(first: $first, after: $after) { nodes { id createdAt } pageInfo { hasNextPage endCursor } }
    }
  }
}
"""


def user_ref(user_id: str) -> dict[str, Any]:
    return {"__typename": "User", "id": user_id}


async def orders_page(
    gql: GraphQL, token: str, user_id: str, first: int | None = None, after: str | None = None
) -> dict[str, Any]:
    variables: dict[str, Any] = {"representations": [user_ref(user_id)], "after": after}
    if first is not None:
        variables["first"] = first
    result = await gql(USER_ORDERS, variables, token=token)
    assert "errors" not in result, result
    page: dict[str, Any] = result["data"]["_entities"][0]["orders"]
    return page


async def test_walks_every_order_newest_first_across_pages(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]
) -> None:
    customer = uuid.uuid4().hex
    # Orders sharing a createdAt in threes: pages follow the order they were placed in, ties or not.
    expected = await insert_orders(db, customer, 25, same_time_every=3)
    await insert_orders(db, uuid.uuid4().hex, 5)  # someone else's
    token = tokens.customer(customer)

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await orders_page(gql, token, customer, first=10, after=after)
        seen += [node["id"] for node in page["nodes"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == expected
    assert pages == 3


async def test_positions_a_dead_placeorder_left_unused_are_skipped(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]
) -> None:
    customer = uuid.uuid4().hex
    older = await insert_orders(db, customer, 14)
    # placeOrders that died between taking their position and inserting the order: more
    # unused positions than a few buckets hold.
    await db["counters"].update_one({"_id": CUSTOMER_HISTORY.counter_id(customer)}, {"$inc": {"value": 25}})
    newer = await insert_orders(db, customer, 14)
    token = tokens.customer(customer)

    seen: list[str] = []
    after = None
    while True:
        page = await orders_page(gql, token, customer, first=4, after=after)
        seen += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == newer + older


async def test_orders_stored_before_customer_positions_get_theirs_at_start_once(
    settings: Settings, db: AsyncDatabase[Document]
) -> None:
    customer, start = uuid.uuid4().hex, datetime.now(UTC)
    # As an earlier version stored them: no position, no counter, no migration done.
    nothing = rules.PricedOrder(items=(), total=Amount(amount=0, currency="USD"))
    stored = [
        rules.new_order(
            order_id=uuid.uuid4().hex,
            number=f"SG-{n:06d}",
            customer_id=customer,
            customer_seq=0,  # not stored: to_doc leaves the position out
            priced=nothing,
            shipping_address={**ADDRESS, "line2": None},
            now=start - timedelta(minutes=n),
        ).to_doc()
        for n in range(12)
    ]
    await db["orders"].insert_many(random.sample(stored, len(stored)))
    expected = [order["_id"] for order in stored]

    store = OrderStore(
        MongoDB(
            settings.mongodb_uri,
            settings.mongodb_database,
            service="orders",
            ferretdb_postgresql_url=settings.ferretdb_postgresql_url,
        )
    )
    await store.open()
    try:
        pages = await store.customer_order_pages([customer], 100, None)
        assert [order.id for order in pages[customer]] == expected
        migration = await db["migrations"].find_one({"_id": POSITIONS_MIGRATION})
        assert migration is not None
        assert migration["orders"] == 12
    finally:
        await store.close()


async def test_default_page_is_twenty(gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]) -> None:
    customer = uuid.uuid4().hex
    expected = await insert_orders(db, customer, 21)
    page = await orders_page(gql, tokens.customer(customer), customer)
    assert [node["id"] for node in page["nodes"]] == expected[:20]
    assert page["pageInfo"]["hasNextPage"] is True


async def test_no_orders_is_an_empty_page(gql: GraphQL, tokens: Tokens) -> None:
    customer = uuid.uuid4().hex
    page = await orders_page(gql, tokens.customer(customer), customer)
    assert page == {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


async def test_a_new_order_comes_first(gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]) -> None:
    customer = uuid.uuid4().hex
    older = await insert_orders(db, customer, 2)
    placed = await place_order(gql, tokens.customer(customer))
    page = await orders_page(gql, tokens.customer(customer), customer)
    assert [node["id"] for node in page["nodes"]] == [placed["id"], *older]


@pytest.mark.parametrize(
    ("first", "after"),
    [(0, None), (101, None), (-1, None), (10, "not-a-cursor"), (10, '{"$gt": ""}')],
)
async def test_bad_page_arguments(gql: GraphQL, tokens: Tokens, first: int, after: str | None) -> None:
    customer = uuid.uuid4().hex
    variables = {"representations": [user_ref(customer)], "first": first, "after": after}
    result = await gql(USER_ORDERS, variables, token=tokens.customer(customer))
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_only_the_customer_or_an_admin_lists_orders(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]
) -> None:
    customer = uuid.uuid4().hex
    expected = await insert_orders(db, customer, 2)
    variables = {"representations": [user_ref(customer)]}

    other = await gql(USER_ORDERS, variables, token=tokens.customer(uuid.uuid4().hex))
    anonymous = await gql(USER_ORDERS, variables)
    admin = await orders_page(gql, tokens.admin(), customer)

    assert error_codes(other) == ["FORBIDDEN"]
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    assert [node["id"] for node in admin["nodes"]] == expected


async def test_order_customer_leads_back_to_their_orders(gql: GraphQL, tokens: Tokens) -> None:
    customer = uuid.uuid4().hex
    token = tokens.customer(customer)
    order = await place_order(gql, token)
    query = "query($id: ID!) { order(id: $id) { customer { id orders { nodes { number } } } } }"
    result = await gql(query, {"id": order["id"]}, token=token)
    assert result["data"]["order"]["customer"] == {
        "id": customer,
        "orders": {"nodes": [{"number": order["number"]}]},
    }
