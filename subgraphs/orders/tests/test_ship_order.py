"""shipOrder: delivery marks an order shipped before its parcel goes IN_TRANSIT, and the order alone
decides between that and cancelOrder."""

import asyncio
import uuid

import pytest
from conftest import GraphQL, Tokens, error_codes, place_order
from pymongo.asynchronous.database import AsyncDatabase
from test_cancel_order import CANCEL, set_status

from shopkit.mongo import Document

SHIP = """
mutation Ship($id: ID!) {
  shipOrder(id: $id) { id status history { status event } }
}
"""


@pytest.mark.parametrize("status", ["PENDING_PAYMENT", "PAYMENT_FAILED", "PAID"])
async def test_an_admin_ships_an_order_and_it_can_no_longer_be_cancelled(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document], status: str
) -> None:
    # PENDING_PAYMENT and PAYMENT_FAILED too: delivery only has a parcel for a captured payment,
    # whose payment.captured orders may not have applied yet.
    customer = tokens.customer(uuid.uuid4().hex)
    order = await place_order(gql, customer)
    await set_status(db, order["id"], status)

    result = await gql(SHIP, {"id": order["id"]}, token=tokens.admin())

    shipped = result["data"]["shipOrder"]
    assert shipped["status"] == "SHIPPED"
    assert shipped["history"][-1] == {"status": "SHIPPED", "event": "shipOrder"}
    refused = await gql(CANCEL, {"id": order["id"]}, token=customer)
    assert error_codes(refused) == ["CONFLICT"]
    assert refused["errors"][0]["message"].startswith(f"Order {order['number']} has already shipped")


async def test_a_cancelled_order_cannot_ship(
    quiet_gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]
) -> None:
    customer = tokens.customer(uuid.uuid4().hex)
    order = await place_order(quiet_gql, customer)
    assert "errors" not in await quiet_gql(CANCEL, {"id": order["id"]}, token=customer)
    before = await db["orders"].find_one({"_id": order["id"]})

    result = await quiet_gql(SHIP, {"id": order["id"]}, token=tokens.admin())

    assert error_codes(result) == ["CONFLICT"]
    assert result["errors"][0]["message"] == f"Order {order['number']} was cancelled and cannot ship."
    assert await db["orders"].find_one({"_id": order["id"]}) == before


@pytest.mark.parametrize("status", ["SHIPPED", "DELIVERED"])
async def test_shipping_again_answers_the_order_unchanged(
    quiet_gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document], status: str
) -> None:
    order = await place_order(quiet_gql, tokens.customer(uuid.uuid4().hex))
    await set_status(db, order["id"], status)
    before = await db["orders"].find_one({"_id": order["id"]})

    result = await quiet_gql(SHIP, {"id": order["id"]}, token=tokens.admin())

    assert result["data"]["shipOrder"]["status"] == status
    assert await db["orders"].find_one({"_id": order["id"]}) == before


async def test_only_an_admin_ships_and_only_a_known_order(
    quiet_gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]
) -> None:
    customer = tokens.customer(uuid.uuid4().hex)
    order = await place_order(quiet_gql, customer)
    before = await db["orders"].find_one({"_id": order["id"]})

    assert error_codes(await quiet_gql(SHIP, {"id": order["id"]}, token=customer)) == ["FORBIDDEN"]
    assert error_codes(await quiet_gql(SHIP, {"id": order["id"]})) == ["UNAUTHENTICATED"]
    assert error_codes(await quiet_gql(SHIP, {"id": uuid.uuid4().hex}, token=tokens.admin())) == ["NOT_FOUND"]
    assert await db["orders"].find_one({"_id": order["id"]}) == before


async def test_ship_and_cancel_at_once_have_exactly_one_winner(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]
) -> None:
    admin = tokens.admin()
    for _ in range(10):
        customer = tokens.customer(uuid.uuid4().hex)
        order = await place_order(gql, customer)
        await set_status(db, order["id"], "PAID")

        ship, cancel = await asyncio.gather(
            gql(SHIP, {"id": order["id"]}, token=admin), gql(CANCEL, {"id": order["id"]}, token=customer)
        )

        outcomes = (error_codes(ship), error_codes(cancel))
        stored = await db["orders"].find_one({"_id": order["id"]})
        assert stored is not None
        if stored["status"] == "SHIPPED":
            assert outcomes == ([], ["CONFLICT"]), (ship, cancel)
        else:
            assert stored["status"] == "CANCELLED"
            assert outcomes == (["CONFLICT"], []), (ship, cancel)


async def test_ship_order_is_kept_out_of_the_api_schema(gql: GraphQL) -> None:
    result = await gql("{ _service { sdl } }")

    assert "shipOrder(id: ID!): Order! @inaccessible" in result["data"]["_service"]["sdl"]
