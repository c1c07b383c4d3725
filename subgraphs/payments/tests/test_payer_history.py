"""A payer's payments, newest first, in pages that span buckets of ten (shopkit.history), and
payments stored before positions existed given theirs at start."""

import uuid
from datetime import UTC, datetime, timedelta

from conftest import Shop

from payments.config import Settings
from payments.store import PAYER_HISTORY, PaymentRecord, PaymentStatus, PaymentStore
from shopkit.mongo import MongoDB
from shopkit.pagination import Cursor
from shopkit.records import Amount

START = datetime(2026, 11, 1, tzinfo=UTC)


def payment(payer_id: str, n: int) -> PaymentRecord:
    return PaymentRecord(
        id=uuid.uuid4().hex,
        order_id=uuid.uuid4().hex,
        payer_id=payer_id,
        amount=Amount(amount=100 + n, currency="EUR"),
        status=PaymentStatus.CAPTURED,
        card=None,
        failure_reason=None,
        refunded_amount=0,
        refunds=(),
        created_at=START + timedelta(minutes=n),
        updated_at=START + timedelta(minutes=n),
        applied_events=(),
    )


def cursor_of(payment: PaymentRecord) -> Cursor:
    return Cursor(created_at=payment.created_at, id=payment.id)


async def test_pages_run_newest_first_across_buckets(shop: Shop) -> None:
    payer = uuid.uuid4().hex
    made = [payment(payer, n) for n in range(25)]
    for document in made:
        await shop.store.insert_payment(document)
    newest_first = [document.id for document in reversed(made)]

    first = (await shop.store.payment_pages([payer], 10, None))[payer]
    second = (await shop.store.payment_pages([payer], 10, cursor_of(first[-1])))[payer]
    last = (await shop.store.payment_pages([payer], 10, cursor_of(second[-1])))[payer]
    after_last = (await shop.store.payment_pages([payer], 10, cursor_of(last[-1])))[payer]

    assert [p.id for p in first + second + last] == newest_first
    assert [len(first), len(second), len(last), len(after_last)] == [10, 10, 5, 0]
    stored_first = shop.db.payments.find({"_id": {"$in": [p.id for p in first]}})
    assert {doc[PAYER_HISTORY.bucket_field] async for doc in stored_first} == {f"{payer}#2", f"{payer}#1"}


async def test_a_refused_payment_leaves_a_gap_the_page_reads_past(shop: Shop) -> None:
    payer = uuid.uuid4().hex
    made = [payment(payer, n) for n in range(12)]
    for document in made:
        await shop.store.insert_payment(document)
    # What a refused claim does: the PENDING payment is deleted, its position stays taken.
    await shop.db.payments.delete_many({"_id": {"$in": [d.id for d in made[1:11]]}})

    page = (await shop.store.payment_pages([payer], 5, None))[payer]

    assert [p.id for p in page] == [made[11].id, made[0].id]


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
    await mongodb.writes.payments.insert_many([p.to_doc() for p in reversed(stored)])
    store = PaymentStore(mongodb)
    await store.open()
    try:
        page = (await store.payment_pages([payer], 100, None))[payer]
        migration = await mongodb.reads.migrations.find_one({"_id": PAYER_HISTORY.migration_id})
    finally:
        await store.close()

    assert [p.id for p in page] == [d.id for d in reversed(stored)]
    assert migration is not None
    assert migration["payments"] == 13
