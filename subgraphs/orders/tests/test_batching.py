"""No N+1: entity references and nested lists cost a fixed number of store commands."""

import uuid
from typing import Any

from conftest import GraphQL, Tokens, insert_orders
from pymongo.asynchronous.database import AsyncDatabase

from shopkit.mongo import Document, Server
from shopkit.testing import StoreWork, batch_commands

ORDER_ENTITIES = """
query Orders($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Order {
      id number status total { amount currency }
      items { quantity lineTotal { amount } product { sku name price { amount } } }
      customer { id }
    }
  }
}
"""
USER_ENTITIES = """
query Users($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on User {
      id
      orders(first: 3) {
        nodes { id number items { product { name } } customer { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""


async def work_for(gql: GraphQL, query: str, variables: dict[str, Any], token: str) -> tuple[StoreWork, Any]:
    before = StoreWork.now()
    result = await gql(query, variables, token=token)
    assert "errors" not in result, result
    return StoreWork.now() - before, result["data"]


async def test_order_entities_cost_one_query_however_many(
    quiet_gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document], mongodb_server: Server
) -> None:
    order_ids = []
    for _ in range(20):
        order_ids += await insert_orders(db, uuid.uuid4().hex, 5)
    admin = tokens.admin()

    def refs(count: int) -> dict[str, Any]:
        return {
            "representations": [{"__typename": "Order", "id": order_id} for order_id in order_ids[:count]]
        }

    few, _ = await work_for(quiet_gql, ORDER_ENTITIES, refs(10), admin)
    many, data = await work_for(quiet_gql, ORDER_ENTITIES, refs(100), admin)

    assert [entity["id"] for entity in data["_entities"]] == order_ids
    assert all(len(entity["items"]) == 2 for entity in data["_entities"])
    # One call for the orders; their products come from the catalog in memory.
    assert few.calls == many.calls == 1
    assert few.commands == batch_commands(mongodb_server, 10)
    assert many.commands == batch_commands(mongodb_server, 100)


async def test_user_orders_for_many_users_cost_a_constant_number_of_queries(
    quiet_gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document], mongodb_server: Server
) -> None:
    orders_by_user = {}
    for index in range(100):
        user_id = uuid.uuid4().hex
        orders_by_user[user_id] = await insert_orders(db, user_id, index % 6)
    admin = tokens.admin()

    def refs(count: int) -> dict[str, Any]:
        return {
            "representations": [
                {"__typename": "User", "id": user_id} for user_id in list(orders_by_user)[:count]
            ]
        }

    few, _ = await work_for(quiet_gql, USER_ENTITIES, refs(10), admin)
    many, data = await work_for(quiet_gql, USER_ENTITIES, refs(100), admin)

    for entity in data["_entities"]:
        expected = orders_by_user[entity["id"]]
        assert [node["id"] for node in entity["orders"]["nodes"]] == expected[:3]
        assert entity["orders"]["pageInfo"]["hasNextPage"] == (len(expected) > 3)
        assert all(node["customer"]["id"] == entity["id"] for node in entity["orders"]["nodes"])
    # One call for the pages of all users: their positions, then the one bucket of each
    # user with orders (products come from the catalog in memory).
    assert few.calls == many.calls == 1
    with_orders = [
        sum(1 for orders in list(orders_by_user.values())[:count] if orders) for count in (10, 100)
    ]
    assert few.commands == batch_commands(mongodb_server, 10, with_orders[0])
    assert many.commands == batch_commands(mongodb_server, 100, with_orders[1])


async def test_one_customers_newest_orders_read_only_the_buckets_they_are_in(
    quiet_gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document], mongodb_server: Server
) -> None:
    customer = uuid.uuid4().hex
    await insert_orders(db, customer, 30)
    variables = {"representations": [{"__typename": "User", "id": customer}]}
    work, data = await work_for(quiet_gql, USER_ENTITIES, variables, tokens.customer(customer))
    assert len(data["_entities"][0]["orders"]["nodes"]) == 3
    assert work.calls == 1
    # The customer's position, the two buckets holding orders 27 to 30 (a page of 3, and one
    # more to tell whether another page follows): not the 30 orders.
    assert work.commands == batch_commands(mongodb_server, 1, 2)
