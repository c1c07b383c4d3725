"""A payer's payments, newest first, in pages that span buckets of ten (shopkit.history), and
payments stored before positions existed given theirs at start."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import Shop

from payments.config import Settings
from payments.store import PAYER_HISTORY, PaymentStatus, PaymentStore
from shopkit.mongo import MongoDB
from shopkit.pagination import Cursor

START = datetime(2026, 11, 1, tzinfo=UTC)


def payment(payer_id: str, n: int) -> dict[str, Any]:
    return {
        "_id": uuid.uuid4().hex,
        "orderId": uuid.uuid4().hex,
        "payerId": payer_id,
        "amount": {"amount": 100 + n, "currency": "EUR"},
        "status": PaymentStatus.CAPTURED,
        "refundedAmount": 0,
        "refunds": [],
        "appliedEvents": [],
        "createdAt": START + timedelta(minutes=n),
        "updatedAt": START + timedelta(minutes=n),
    }


def cursor_of(document: dict[str, Any]) -> Cursor:
    return Cursor(created_at=document["createdAt"], id=document["_id"])


async def test_pages_run_newest_first_across_buckets(shop: Shop) -> None:
    payer = uuid.uuid4().hex
    made = [payment(payer, n) for n in range(25)]
    for document in made:
        await shop.store.insert_payment(document)
    newest_first = [document["_id"] for document in reversed(made)]

    first = (await shop.store.payment_pages([payer], 10, None))[payer]
    second = (await shop.store.payment_pages([payer], 10, cursor_of(first[-1])))[payer]
    last = (await shop.store.payment_pages([payer], 10, cursor_of(second[-1])))[payer]
    after_last = (await shop.store.payment_pages([payer], 10, cursor_of(last[-1])))[payer]

    assert [p["_id"] for p in first + second + last] == newest_first
    assert [len(first), len(second), len(last), len(after_last)] == [10, 10, 5, 0]
    assert {p[PAYER_HISTORY.bucket_field] for p in first} == {f"{payer}#2", f"{payer}#1"}


async def test_a_refused_payment_leaves_a_gap_the_page_reads_past(shop: Shop) -> None:
    payer = uuid.uuid4().hex
    made = [payment(payer, n) for n in range(12)]
    for document in made:
        await shop.store.insert_payment(document)
    # What a refused claim does: the PENDING payment is deleted, its position stays taken.
    await shop.db.payments.delete_many({"_id": {"$in": [d["_id"] for d in made[1:11]]}})

    page = (await shop.store.payment_pages([payer], 5, None))[payer]

    assert [p["_id"] for p in page] == [made[11]["_id"], made[0]["_id"]]


async def test_payments_stored_before_positions_get_theirs_at_start(settings: Settings) -> None:
    """Without the app (it would hold the embedded store's writer lock): a store opened on
    payments an earlier version stored finds them a position each, oldest first, once."""
    payer = uuid.uuid4().hex
    stored = [payment(payer, n) for n in range(13)]
    mongodb = MongoDB(
        settings.mongodb_uri,
        settings.mongodb_database,
        service="payments",
        ferretdb_postgresql_url=settings.ferretdb_postgresql_url,
    )
    await mongodb.writes.payments.insert_many(list(reversed(stored)))
    store = PaymentStore(mongodb)
    await store.open()
    try:
        page = (await store.payment_pages([payer], 100, None))[payer]
        migration = await mongodb.reads.migrations.find_one({"_id": PAYER_HISTORY.migration_id})
    finally:
        await store.close()

    assert [p["_id"] for p in page] == [d["_id"] for d in reversed(stored)]
    assert migration is not None
    assert migration["payments"] == 13
