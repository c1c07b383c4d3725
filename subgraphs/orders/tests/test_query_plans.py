"""The orders store's listed query shapes, planned by PostgreSQL on an index at 3,000 documents
(shopkit.testing.query_plans; docs/architecture.md, "Query shapes")."""

import uuid
from datetime import UTC, datetime, timedelta

from orders.rules import CANCELLABLE, PricedOrder, new_order
from orders.store import CUSTOMER_HISTORY, HistoryEntry, OrderStatus, OrderStore
from shopkit.events.envelope import Event
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

ORDERS = 3000
CUSTOMERS = 300


async def test_every_listed_shape_is_planned_on_an_index(
    query_plans: QueryPlans, embedded_store: EmbeddedStore, database_name: str
) -> None:
    mongodb = explained_mongodb(query_plans, embedded_store, database_name, "orders")
    store = OrderStore(mongodb)
    await store.open()
    try:
        now = datetime.now(UTC)
        await mongodb.writes.counters.insert_many(
            [{"_id": f"counter-{n}", "value": n} for n in range(ORDERS)]
            + [
                {"_id": CUSTOMER_HISTORY.counter_id(f"customer-{c}"), "value": ORDERS // CUSTOMERS}
                for c in range(CUSTOMERS)
            ]
        )
        nothing = PricedOrder(items=(), total=Amount(amount=0, currency="EUR"))
        address = {
            "line1": "1 Street",
            "line2": None,
            "city": "Lisbon",
            "postalCode": "10000",
            "country": "PT",
        }
        await mongodb.writes.orders.insert_many(
            [
                {
                    **new_order(
                        order_id=f"order-{n}",
                        number=f"SG-{n}",
                        customer_id=f"customer-{n % CUSTOMERS}",
                        customer_seq=0,  # the position below
                        priced=nothing,
                        shipping_address=address,
                        now=now - timedelta(minutes=n),
                    ).to_doc(),
                    # The newest order of each customer (the smallest n) is its last.
                    **CUSTOMER_HISTORY.position(
                        f"customer-{n % CUSTOMERS}", ORDERS // CUSTOMERS - n // CUSTOMERS
                    ),
                    "appliedEvents": [],
                }
                for n in range(ORDERS)
            ]
        )
        analyze(embedded_store, database_name)

        query_plans.mark()
        assert len(await store.orders_by_id(["order-1", "order-2"])) == 2
        assert await store.order_state("order-3") is not None
        pages = await store.customer_order_pages(["customer-1", "customer-2"], 5, None)
        assert [len(page) for page in pages.values()] == [5, 5]
        after = Cursor(created_at=pages["customer-1"][1].created_at, id=pages["customer-1"][1].id)
        assert len((await store.customer_order_pages(["customer-1"], 5, after))["customer-1"]) == 5
        assert await store.next_order_sequence() == 1
        event = Event("order.cancelled", {"orderId": "order-4"}, "orders")
        entry = HistoryEntry(status=OrderStatus.CANCELLED, at=now, event=event.type)
        assert await store.cancel_order("order-4", CANCELLABLE, entry, event, now) is not None
        assert await store.apply_event(
            "order-5", uuid.uuid4().hex, OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, None, now
        )
        assert await mongodb.reads.orders.find_one({"outboxPending": True}) is not None  # the relay's sweep
        plans = query_plans.of_database(database_name)
    finally:
        await store.close()

    assert_answered_from_indexes(plans)
