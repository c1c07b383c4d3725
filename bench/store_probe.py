"""Hot-path store operations at two collection sizes, through the orders service's own store layer.

    uv run --frozen --project bench python -m bench.store_probe   # on the bench stack's store

The probe owns a scratch database (`bench_store_probe`, dropped afterwards) and
opens it with `OrderStore.open()`, as the orders service opens its own: the
writer lock, the GIN equality indexes on FerretDB, the service's indexes. It
fills it with orders made by `orders.rules.new_order` (1,000
customers) up to the smaller size, times each operation, grows it to the
larger size and times them again: at each size straight after the fill, and
again after `VACUUM ANALYZE` of its tables (what PostgreSQL's autovacuum does
after a burst of inserts: fresh statistics, GIN pending lists merged into the
index; the targets are judged on these). Each operation is repeated on different
orders and customers; the p50 and p99 of the wall time are reported.

- find by `_id`: `OrderStore.orders_by_id([id])` (a DataLoader batch of one);
- the customer's newest 20: `OrderStore.customer_order_pages([customer], 20, None)`;
- the customer's newest 100, the page `me { orders(first: 100) }` reads (101: one
  more tells whether another page follows);
- update by `_id`: `OrderStore.apply_event(...)` (an event recorded on the order).

The pages are asked of the customers whose histories are made first
(`LONG_HISTORIES` customers with `LONG_HISTORY` orders each), so that a page
holds as many orders at both sizes and only the collection grows; the rest of
the orders go to `CUSTOMERS` others.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.config import Settings
from bench.vegeta import percentile
from orders import rules
from orders.store import OrderLine, OrderRecord, OrderStatus, OrderStore
from shopkit.ferretdb import collection_tables
from shopkit.mongo import MongoDB
from shopkit.records import Amount

DATABASE = "bench_store_probe"
CUSTOMERS = 1000
# The first LONG_HISTORIES * LONG_HISTORY orders: more than the largest page (101) each, and
# no more than the smallest size (`BENCH_QUICK=1`: 1,000 orders).
LONG_HISTORIES = 8
LONG_HISTORY = 125
REPEATS = 100
INSERT_BATCH = 1000
ITEMS = rules.PricedOrder(
    items=(OrderLine(sku="SKU-1", name="A product", quantity=2, unit_price=Amount(1234, "EUR")),),
    total=Amount(amount=2468, currency="EUR"),
)
ADDRESS = {"line1": "1 Street", "line2": None, "city": "Lisbon", "postalCode": "10000", "country": "PT"}


def customer_of(index: int) -> str:
    """The customer of the order filled at `index`."""
    if index < LONG_HISTORIES * LONG_HISTORY:
        return long_history_customer(index)
    return f"customer-{index % CUSTOMERS:04d}"


def long_history_customer(n: int) -> str:
    return f"long-history-{n % LONG_HISTORIES}"


def new_order(index: int, start: datetime) -> OrderRecord:
    return rules.new_order(
        order_id=uuid.uuid4().hex,
        number=rules.order_number(index),
        customer_id=customer_of(index),
        customer_seq=0,  # OrderStore.import_orders gives each its position
        priced=ITEMS,
        shipping_address=ADDRESS,
        now=start + timedelta(milliseconds=index),
    )


async def timed(repeats: int, operation: Callable[[int], Awaitable[object]]) -> dict[str, float]:
    latencies = []
    for n in range(repeats):
        started = time.perf_counter()
        await operation(n)
        latencies.append(1000 * (time.perf_counter() - started))
    return {"p50": round(percentile(latencies, 0.5), 2), "p99": round(percentile(latencies, 0.99), 2)}


async def measure(store: OrderStore, ids: list[str]) -> dict[str, dict[str, float]]:
    step = max(len(ids) // REPEATS, 1)

    def order_id(n: int) -> str:
        return ids[(n * step + 17) % len(ids)]

    async def update(n: int) -> bool:
        status = OrderStatus.PENDING_PAYMENT
        return await store.apply_event(order_id(n), uuid.uuid4().hex, status, status, None, datetime.now(UTC))

    return {
        "find by _id": await timed(REPEATS, lambda n: store.orders_by_id([order_id(n)])),
        "customer's newest 20": await timed(
            REPEATS, lambda n: store.customer_order_pages([long_history_customer(n)], 20, None)
        ),
        "customer's newest 100": await timed(
            REPEATS, lambda n: store.customer_order_pages([long_history_customer(n)], 101, None)
        ),
        "update by _id": await timed(REPEATS, update),
    }


async def vacuum(settings: Settings) -> bool:
    """`VACUUM ANALYZE` of the probe's tables in FerretDB's PostgreSQL, what autovacuum does after a
    burst of inserts (statistics, and GIN pending lists merged); False on a real MongoDB."""
    if settings.ferretdb_postgresql_url is None:
        return False
    connection = await asyncpg.connect(settings.ferretdb_postgresql_url)
    try:
        for table in (await collection_tables(connection, DATABASE)).values():
            await connection.execute(f'VACUUM ANALYZE "{DATABASE}"."{table}"')
    finally:
        await connection.close()
    return True


async def probe(settings: Settings, log: Callable[[str], None] = print) -> dict[str, Any]:
    small, large = settings.durations.probe_sizes
    mongo = MongoDB(
        settings.mongodb_uri, DATABASE, service="bench-store-probe",
        ferretdb_postgresql_url=settings.ferretdb_postgresql_url,
    )  # fmt: skip
    store = OrderStore(mongo)
    await mongo.writes.client.drop_database(DATABASE)
    await store.open()
    start = datetime.now(UTC) - timedelta(days=30)
    ids: list[str] = []
    result: dict[str, Any] = {"sizes": {}, "fresh": {}}
    try:
        for size in (small, large):
            started = time.perf_counter()
            while len(ids) < size:
                batch = [new_order(len(ids) + n, start) for n in range(min(INSERT_BATCH, size - len(ids)))]
                await store.import_orders(batch)
                ids += [order.id for order in batch]
            log(f"    store probe: {size} orders (filled in {time.perf_counter() - started:.0f} s)")
            result["fresh"][str(size)] = await measure(store, ids)
            vacuumed = await vacuum(settings)
            result["sizes"][str(size)] = await measure(store, ids) if vacuumed else result["fresh"][str(size)]
            log(
                f"      just filled: {result['fresh'][str(size)]}\n"
                f"      vacuumed: {result['sizes'][str(size)]}"
            )
    finally:
        await mongo.writes.client.drop_database(DATABASE)
        await store.close()
    result["operations"] = list(result["sizes"][str(small)])
    result["small"], result["large"] = small, large
    return result


def main() -> None:
    print(asyncio.run(probe(Settings.from_env())))


if __name__ == "__main__":
    main()
