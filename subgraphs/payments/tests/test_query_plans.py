"""The payments store's listed query shapes, planned by PostgreSQL on an index at 3,000 documents
(shopkit.testing.query_plans; docs/architecture.md, "Query shapes")."""

from datetime import UTC, datetime, timedelta

from payments.store import (
    ORDER_OPEN,
    PAYER_HISTORY,
    IdempotencyKey,
    OrderProjection,
    OrderRef,
    PaymentRecord,
    PaymentStatus,
    PaymentStore,
)
from shopkit.events.envelope import Event
from shopkit.history import bucket_of
from shopkit.pagination import Cursor
from shopkit.records import Amount
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
ADDRESS: dict[str, str | None] = {
    "line1": "1 Street",
    "line2": None,
    "city": "Lisbon",
    "postalCode": "10000",
    "country": "PT",
}


def bucket(n: int) -> str:
    """The bucket of order-n: the (n // PAYERS + 1)th order of payer-(n % PAYERS)."""
    return bucket_of(f"payer-{n % PAYERS}", n // PAYERS + 1)


def projection(
    order_id: str, customer_id: str, amount: Amount, now: datetime, order_bucket: str | None = None
) -> OrderProjection:
    return OrderProjection(
        id=order_id,
        number=f"SG-{order_id}",
        customer_id=customer_id,
        total=amount,
        shipping_address=ADDRESS,
        status=ORDER_OPEN,
        capturing_payment_id=None,
        placed_at=now,
        created_at=now,
        updated_at=now,
        applied_events=(),
        order_bucket=order_bucket,
    )


async def test_every_listed_shape_is_planned_on_an_index(
    query_plans: QueryPlans, embedded_store: EmbeddedStore, database_name: str
) -> None:
    mongodb = explained_mongodb(query_plans, embedded_store, database_name, "payments")
    store = PaymentStore(mongodb)
    await store.open()
    try:
        now = datetime.now(UTC)
        amount = Amount(amount=1000, currency="EUR")
        await mongodb.writes.orders.insert_many(
            [
                projection(f"order-{n}", f"payer-{n % PAYERS}", amount, now, bucket(n)).to_doc()
                for n in range(ROWS)
            ]
        )
        await mongodb.writes.payments.insert_many(
            [
                {
                    **PaymentRecord(
                        id=f"payment-{n}",
                        order_id=f"order-{n}",
                        payer_id=f"payer-{n % PAYERS}",
                        amount=amount,
                        status=PaymentStatus.PENDING if n == 0 else PaymentStatus.CAPTURED,
                        card=None,
                        failure_reason=None,
                        refunded_amount=0,
                        refunds=(),
                        created_at=now - timedelta(minutes=n),
                        updated_at=now - timedelta(minutes=n),
                        applied_events=(),
                        order_bucket=bucket(n),
                    ).to_doc(),
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
        keys = [
            IdempotencyKey(
                id=f"payer-1:key-{n}",
                payer_id="payer-1",
                order_id=f"order-{n}",
                request_hash="hash",
                payment_id=f"payment-{n}",
                created_at=now,
            )
            for n in range(ROWS)
        ]
        await mongodb.writes.idempotency_keys.insert_many([key.to_doc() for key in keys])
        analyze(embedded_store, database_name)

        query_plans.mark()
        await store.record_order_placed(projection("order-1", "payer-1", amount, now))
        assert len(await store.orders_by_ids(["order-1", "order-2"])) == 2
        assert await store.claim_order("order-3", "payment-3", now)
        await store.confirm_order_claim("order-3", "payment-3", now)
        assert await store.claim_order("order-4", "payment-4", now)
        assert [claim.id for claim in await store.claims_older_than(now + timedelta(seconds=1))] == [
            "order-4"
        ]
        await store.release_order_claim("order-4", "payment-4", now)
        assert await store.mark_order_cancelled("order-5", "event-1", now) is not None
        assert await store.find_idempotency_key("payer-1:key-1") is not None
        assert await store.reserve_idempotency_key(keys[2]) is not None
        await store.release_idempotency_key("payer-1:key-3", "payment-3")
        assert await store.find_payment("payment-1") is not None
        assert len(await store.payments_by_ids(["payment-1", "payment-2"])) == 2
        assert len(await store.payments_of_orders([OrderRef("order-1"), OrderRef("order-2")])) == 2
        # Three orders of one bucket: read by that bucket (its projections, then its payments).
        in_one_bucket = [OrderRef(f"order-{n}", bucket(n)) for n in (1, 1 + PAYERS, 1 + 2 * PAYERS)]
        assert [len(paid) for paid in (await store.payments_of_orders(in_one_bucket)).values()] == [1, 1, 1]
        pages = await store.payment_pages(["payer-1", "payer-2"], 3, None)
        assert [len(page) for page in pages.values()] == [3, 3]
        after = Cursor(created_at=pages["payer-1"][0].created_at, id=pages["payer-1"][0].id)
        assert len((await store.payment_pages(["payer-1"], 3, after))["payer-1"]) == 3
        assert [p.id for p in await store.pending_payments_older_than(now + timedelta(seconds=1))] == [
            "payment-0"
        ]
        event = Event("payment.captured", {"paymentId": "payment-0"}, "payments")
        assert await store.settle_payment("payment-0", event, at=now, decline_reason=None) is not None
        assert await mongodb.reads.payments.find_one({"outboxPending": True}) is not None  # the relay's sweep
        plans = query_plans.of_database(database_name)
    finally:
        await store.close()

    assert_answered_from_indexes(plans)
