"""cancelOrder: who may cancel, from which statuses, and one winner among concurrent cancels."""

import asyncio
import uuid

import pytest
from conftest import GraphQL, Tokens, error_codes, place_order
from pymongo.asynchronous.database import AsyncDatabase

from shopkit.mongo import Document

CANCEL = """
mutation Cancel($id: ID!) {
  cancelOrder(id: $id) { id status updatedAt history { status event } }
}
"""


async def set_status(db: AsyncDatabase[Document], order_id: str, status: str) -> None:
    await db["orders"].update_one({"_id": order_id}, {"$set": {"status": status}})


@pytest.mark.parametrize("status", ["PENDING_PAYMENT", "PAYMENT_FAILED", "PAID"])
async def test_customer_cancels_before_shipping(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document], status: str
) -> None:
    token = tokens.customer(uuid.uuid4().hex)
    order = await place_order(gql, token)
    await set_status(db, order["id"], status)

    result = await gql(CANCEL, {"id": order["id"]}, token=token)

    cancelled = result["data"]["cancelOrder"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["updatedAt"] > order["updatedAt"]
    assert cancelled["history"][-1] == {"status": "CANCELLED", "event": "order.cancelled"}


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("SHIPPED", "has already shipped"),
        ("DELIVERED", "has already been delivered"),
        ("CANCELLED", "is already cancelled"),
    ],
)
async def test_cancel_is_refused_once_shipped_or_cancelled(
    quiet_gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document], status: str, reason: str
) -> None:
    token = tokens.customer(uuid.uuid4().hex)
    order = await place_order(quiet_gql, token)
    await set_status(db, order["id"], status)
    # (No outbox relay runs in this app, so the stored order stays byte for byte.)
    before = await db["orders"].find_one({"_id": order["id"]})

    result = await quiet_gql(CANCEL, {"id": order["id"]}, token=token)

    assert error_codes(result) == ["CONFLICT"]
    assert result["errors"][0]["message"].startswith(f"Order {order['number']} {reason}")
    assert result["errors"][0]["extensions"]["status"] == status
    assert await db["orders"].find_one({"_id": order["id"]}) == before


async def test_admin_may_cancel_any_order(gql: GraphQL, tokens: Tokens) -> None:
    order = await place_order(gql, tokens.customer(uuid.uuid4().hex))
    result = await gql(CANCEL, {"id": order["id"]}, token=tokens.admin())
    assert result["data"]["cancelOrder"]["status"] == "CANCELLED"


async def test_another_customer_may_not_cancel(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]
) -> None:
    order = await place_order(gql, tokens.customer(uuid.uuid4().hex))
    result = await gql(CANCEL, {"id": order["id"]}, token=tokens.customer(uuid.uuid4().hex))
    assert error_codes(result) == ["FORBIDDEN"]
    stored = await db["orders"].find_one({"_id": order["id"]})
    assert stored is not None
    assert stored["status"] == "PENDING_PAYMENT"


async def test_cancelling_unknown_order_or_anonymously(gql: GraphQL, tokens: Tokens) -> None:
    unknown = await gql(CANCEL, {"id": uuid.uuid4().hex}, token=tokens.customer(uuid.uuid4().hex))
    smuggled = await gql(CANCEL, {"id": '{"$ne": ""}'}, token=tokens.admin())
    anonymous = await gql(CANCEL, {"id": uuid.uuid4().hex})
    assert error_codes(unknown) == ["NOT_FOUND"]
    assert error_codes(smuggled) == ["NOT_FOUND"]
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


async def test_concurrent_cancels_have_exactly_one_winner(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]
) -> None:
    token = tokens.customer(uuid.uuid4().hex)
    order = await place_order(gql, token)

    results = await asyncio.gather(*(gql(CANCEL, {"id": order["id"]}, token=token) for _ in range(8)))

    winners = [result for result in results if "errors" not in result]
    losers = [error_codes(result) for result in results if "errors" in result]
    assert len(winners) == 1
    assert losers == [["CONFLICT"]] * 7
    stored = await db["orders"].find_one({"_id": order["id"]})
    assert stored is not None
    assert [entry["status"] for entry in stored["history"]] == ["PENDING_PAYMENT", "CANCELLED"]
