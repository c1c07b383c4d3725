"""Idempotency keys: replays return the same payment, never a second charge."""

import asyncio
from datetime import UTC, datetime, timedelta

from conftest import DECLINED_CARD, GOOD_CARD, Shop

from payments.config import Settings
from payments.processor import CardProcessor
from payments.rules import Payments


async def test_the_same_key_and_input_return_the_same_payment(shop: Shop) -> None:
    order_id = await shop.place_order("alice")

    first = await shop.pay(order_id, as_user="alice", key="retry-key-1")
    again = await shop.pay(order_id, as_user="alice", key="retry-key-1")

    assert again == first
    assert await shop.db.payments.count_documents({}) == 1
    assert len(shop.processor.approved_charges()) == 1


async def test_a_replayed_decline_stays_the_same_decline(shop: Shop) -> None:
    order_id = await shop.place_order("alice")

    first = await shop.pay(order_id, as_user="alice", card=DECLINED_CARD, key="retry-key-1")
    again = await shop.pay(order_id, as_user="alice", card=DECLINED_CARD, key="retry-key-1")

    assert again == first
    assert first["data"]["payOrder"]["status"] == "FAILED"
    assert await shop.db.payments.count_documents({}) == 1


async def test_the_same_key_with_a_different_input_is_refused(shop: Shop) -> None:
    order_id = await shop.place_order("alice")
    other_order = await shop.place_order("alice")
    await shop.pay(order_id, as_user="alice", key="retry-key-1")

    other_card = await shop.pay(
        order_id, as_user="alice", key="retry-key-1", card={**GOOD_CARD, "number": "5555555555554444"}
    )
    other_target = await shop.pay(other_order, as_user="alice", key="retry-key-1")

    for body in (other_card, other_target):
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "idempotencyKey" in body["errors"][0]["message"]
    assert await shop.db.payments.count_documents({}) == 1
    assert len(shop.processor.approved_charges()) == 1


async def test_keys_belong_to_their_payer(shop: Shop) -> None:
    alices = await shop.place_order("alice")
    bobs = await shop.place_order("bob")

    alice_paid = await shop.pay(alices, as_user="alice", key="shared-key-1")
    bob_paid = await shop.pay(bobs, as_user="bob", key="shared-key-1")

    assert alice_paid["data"]["payOrder"]["status"] == "CAPTURED"
    assert bob_paid["data"]["payOrder"]["status"] == "CAPTURED"
    assert len(shop.processor.approved_charges()) == 2


async def test_fifty_concurrent_duplicates_charge_once(shop: Shop) -> None:
    order_id = await shop.place_order("alice")

    bodies = await asyncio.gather(
        *(shop.pay(order_id, as_user="alice", key="double-click-key") for _ in range(50))
    )

    assert all("errors" not in body for body in bodies), [b for b in bodies if "errors" in b][:1]
    assert {body["data"]["payOrder"]["id"] for body in bodies} == {bodies[0]["data"]["payOrder"]["id"]}
    assert {body["data"]["payOrder"]["status"] for body in bodies} == {"CAPTURED"}
    assert len(shop.processor.approved_charges()) == 1
    assert await shop.db.payments.count_documents({}) == 1
    await shop.eventually(shop.outbox_drained)
    assert len(await shop.published("payment.captured")) == 1


async def test_concurrent_payments_with_different_keys_capture_the_order_once(shop: Shop) -> None:
    order_id = await shop.place_order("alice")

    bodies = await asyncio.gather(
        *(shop.pay(order_id, as_user="alice", key=f"distinct-key-{n}") for n in range(10))
    )

    captured = [b for b in bodies if "errors" not in b]
    refused = [b for b in bodies if "errors" in b]
    assert len(captured) == 1
    assert {b["errors"][0]["extensions"]["code"] for b in refused} == {"CONFLICT"}
    assert len(shop.processor.approved_charges()) == 1
    # Refused requests released their keys: only the winner's record remains.
    assert await shop.db.idempotency_keys.count_documents({}) == 1


async def test_keys_older_than_the_retention_are_purged(shop: Shop, settings: Settings) -> None:
    now = datetime.now(UTC)
    ages = {"fresh": timedelta(hours=1), "a-day-old": timedelta(hours=25), "old": timedelta(days=8)}
    await shop.db.idempotency_keys.insert_many(
        [{"_id": f"alice:{name}", "paymentId": name, "createdAt": now - age} for name, age in ages.items()]
    )
    payments = Payments(shop.store, CardProcessor(), settings)

    purged = await payments.purge_idempotency_keys()

    assert purged == 1
    remaining = {doc["_id"] async for doc in shop.db.idempotency_keys.find()}
    assert remaining == {"alice:fresh", "alice:a-day-old"}
