"""The payments store's listed query shapes, planned by PostgreSQL on an index at 3,000 documents
(shopkit.testing.query_plans; docs/architecture.md, "Query shapes")."""

from datetime import UTC, datetime, timedelta

from payments.store import ORDER_OPEN, PAYER_HISTORY, PaymentStatus, PaymentStore
from shopkit.events.envelope import Event
from shopkit.pagination import Cursor
from shopkit.testing import (
    EmbeddedStore,
    QueryPlans,
    analyze,
    assert_answered_from_indexes,
    explained_mongodb,
    only_on_the_embedded_store,
)

pytestmark = only_on_the_embedded_store

ROWS = 3000
PAYERS = 300


async def test_every_listed_shape_is_planned_on_an_index(
    query_plans: QueryPlans, embedded_store: EmbeddedStore, database_name: str
) -> None:
    mongodb = explained_mongodb(query_plans, embedded_store, database_name, "payments")
    store = PaymentStore(mongodb)
    await store.open()
    try:
        now = datetime.now(UTC)
        amount = {"amount": 1000, "currency": "EUR"}
        await mongodb.writes.orders.insert_many(
            [
                {
                    "_id": f"order-{n}",
                    "customerId": f"payer-{n % PAYERS}",
                    "status": ORDER_OPEN,
                    "total": amount,
                }
                for n in range(ROWS)
            ]
        )
        await mongodb.writes.payments.insert_many(
            [
                {
                    "_id": f"payment-{n}",
                    "orderId": f"order-{n}",
                    "payerId": f"payer-{n % PAYERS}",
                    "status": PaymentStatus.PENDING if n == 0 else PaymentStatus.CAPTURED,
                    "amount": amount,
                    "refundedAmount": 0,
                    "refunds": [],
                    "appliedEvents": [],
                    "createdAt": now - timedelta(minutes=n),
                    # Newest first: payment n is its payer's (ROWS / PAYERS - n // PAYERS)th.
                    **PAYER_HISTORY.position(f"payer-{n % PAYERS}", ROWS // PAYERS - n // PAYERS),
                }
                for n in range(ROWS)
            ]
        )
        await mongodb.writes.counters.insert_many(
            [{"_id": f"counter-{n}", "value": n} for n in range(ROWS)]
            + [
                {"_id": PAYER_HISTORY.counter_id(f"payer-{p}"), "value": ROWS // PAYERS}
                for p in range(PAYERS)
            ]
        )
        await mongodb.writes.idempotency_keys.insert_many(
            [{"_id": f"payer-1:key-{n}", "paymentId": f"payment-{n}", "createdAt": now} for n in range(ROWS)]
        )
        analyze(embedded_store, database_name)

        query_plans.mark()
        await store.record_order_placed({"_id": "order-1", "status": ORDER_OPEN})
        assert len(await store.orders_by_ids(["order-1", "order-2"])) == 2
        assert await store.claim_order("order-3", "payment-3", now)
        await store.confirm_order_claim("order-3", "payment-3", now)
        assert await store.claim_order("order-4", "payment-4", now)
        assert [claim["_id"] for claim in await store.claims_older_than(now + timedelta(seconds=1))] == [
            "order-4"
        ]
        await store.release_order_claim("order-4", "payment-4", now)
        assert await store.mark_order_cancelled("order-5", "event-1", now) is not None
        assert await store.find_idempotency_key("payer-1:key-1") is not None
        assert await store.reserve_idempotency_key({"_id": "payer-1:key-2", "paymentId": "x"}) is not None
        await store.release_idempotency_key("payer-1:key-3", "payment-3")
        assert await store.find_payment("payment-1") is not None
        assert len(await store.payments_by_ids(["payment-1", "payment-2"])) == 2
        assert len(await store.payments_by_order_ids(["order-1", "order-2"])) == 2
        pages = await store.payment_pages(["payer-1", "payer-2"], 3, None)
        assert [len(page) for page in pages.values()] == [3, 3]
        after = Cursor(created_at=pages["payer-1"][0]["createdAt"], id=pages["payer-1"][0]["_id"])
        assert len((await store.payment_pages(["payer-1"], 3, after))["payer-1"]) == 3
        assert [p["_id"] for p in await store.pending_payments_older_than(now + timedelta(seconds=1))] == [
            "payment-0"
        ]
        event = Event("payment.captured", {"paymentId": "payment-0"}, "payments")
        assert await store.settle_payment("payment-0", {"status": PaymentStatus.CAPTURED}, event) is not None
        assert await mongodb.reads.payments.find_one({"outboxPending": True}) is not None  # the relay's sweep
        plans = query_plans.of_database(database_name)
    finally:
        await store.close()

    assert_answered_from_indexes(plans)
