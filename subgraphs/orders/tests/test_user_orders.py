"""User.orders: newest first, cursor pagination, and who may list whose orders."""

import uuid
from typing import Any

import pytest
from conftest import GraphQL, Tokens, error_codes, insert_orders, place_order
from pymongo.asynchronous.database import AsyncDatabase

from shopkit.mongo import Document

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
    # Orders sharing a createdAt in threes: the cursor must break ties by id.
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
