"""The bench's data set, made through each service's own code. No bench code writes
another service's documents or keys itself.

- **Customers** register through the API (the router), like real customers.
- **Orders and payments** are written by the orders and payments services' own
  code, run in this process: `orders.rules` prices the basket,
  `OrderStore.next_order_sequence` numbers the order, `OrderStore.insert_order`
  stores it with its `order.placed` event (built by `orders.events.order_placed`)
  in its outbox; payments' own `order.placed` handler
  (`payments.events.OrderEventHandler`) projects it, and `Payments.pay_order`
  (with payments' store and card processor) pays it: every 20th order first
  with a declined card, half of those again with the good card.
- **Deliveries** follow from the events, through the services' own relays and
  consumers: once orders and payments run again, their outbox relays sweep
  the outboxes written here (a sweep at start), delivery's consumer schedules
  a delivery for every `payment.captured`, and orders' consumer moves each
  order along (`payment.*`, `delivery.scheduled`).

Why the orders and payments services are stopped while this runs: the
embedded store (FerretDB 1.24) applies an update as a read and a write with no
isolation between connections, so two processes updating the same documents
lose writes; that is why a running service holds a writer lock on its
database and a second `MongoDB.open()` is refused. Order numbers are an `$inc`
on a counter the running orders service also updates, and paying updates
the projections payments' consumer writes. So the bench stops both services,
opens their stores itself with `.open()` (taking the same writer locks, which
proves nobody else writes), writes, closes (releasing the locks), and starts
them again. Delivery keeps running: it only reacts to the events.

Orders go in two stages: `plan.small_orders` first (order details is measured
on that data set), then the rest. After each stage the seed waits until every
event it caused has been published and handled: each stream grew by what the
stage wrote, and every consumer group of every stream has nothing pending
and no lag. What was made is recorded in `<stack dir>/bench-seed.json` and
reused by later runs of the same plan.
"""

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from bench.client import GraphQLClient, GraphQLError
from bench.config import Plan, Settings
from bench.stack import BenchStack
from orders import rules
from orders.events import order_placed
from orders.store import OrderStore, utc_now
from payments.config import Settings as PaymentSettings
from payments.events import OrderEventHandler as PaymentsOrderEvents
from payments.processor import CardProcessor, parse_card
from payments.rules import Payments, PayRequest
from payments.store import PaymentStatus, PaymentStore
from shopkit.auth import Principal, Role
from shopkit.mongo import MongoDB

GOOD_CARD = "4242424242424242"
DECLINED_CARDS = ("4000000000000002", "4000000000009995")
CUSTOMER_PASSWORD = "bench-customer-password"
REGISTER = """mutation Register($input: RegisterInput!) { register(input: $input) { token user { id } } }"""
LOGIN = """mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token user { id } }
}"""
STREAMS = ("orders", "payments", "delivery")
CONCURRENCY = 16  # orders in flight in this process (each store writes over one connection)
SETTLE_BASE_SECONDS = 120.0
SETTLE_SECONDS_PER_ORDER = 0.05


class SeedError(RuntimeError):
    """Seeding cannot go on; the message says why."""


def orders_per_customer(plan: Plan) -> list[int]:
    """Order counts by customer index: the heavy customers first, the rest spread evenly."""
    heavy = plan.heavy_customers * plan.heavy_orders_each
    rest_customers = plan.customers - plan.heavy_customers
    if rest_customers <= 0 or plan.orders - heavy < rest_customers:
        raise ValueError("the plan leaves customers without orders")
    base, extra = divmod(plan.orders - heavy, rest_customers)
    return [plan.heavy_orders_each] * plan.heavy_customers + [
        base + (1 if i < extra else 0) for i in range(rest_customers)
    ]


def order_owners(plan: Plan) -> list[int]:
    """The customer index of every order, shuffled (so each stage has some of everyone's)."""
    owners = [customer for customer, count in enumerate(orders_per_customer(plan)) for _ in range(count)]
    random.Random(7).shuffle(owners)
    return owners


def first_card(plan: Plan, index: int) -> str:
    if index % plan.decline_every == plan.decline_every - 1:
        return DECLINED_CARDS[(index // plan.decline_every) % len(DECLINED_CARDS)]
    return GOOD_CARD


def pays_again(plan: Plan, index: int) -> bool:
    """Half of the declined orders are paid again with the good card."""
    return first_card(plan, index) != GOOD_CARD and (index // plan.decline_every) % 2 == 0


def address_for(index: int) -> dict[str, Any]:
    return {
        "line1": f"{100 + index % 900} Benchmark Street",
        "line2": None,
        "city": ("Lisbon", "Berlin", "Lyon", "Utrecht", "Porto")[index % 5],
        "postalCode": f"{10000 + index:05d}",
        "country": ("PT", "DE", "FR", "NL", "PT")[index % 5],
    }


def items_for(index: int, skus: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"sku": skus[(index * 7 + n * 5) % len(skus)], "quantity": 1 + (index + n) % 2}
        for n in range(1 + index % 3)
    ]


@dataclass
class Customer:
    index: int
    email: str
    id: str = ""
    orders: list[tuple[str, str]] | None = None  # (order id, final payment status)


@dataclass
class StageCounts:
    orders: int = 0
    payments: int = 0  # settled payments (captured + failed): payment.* events
    captured: int = 0


# --- customers, through the API ------------------------------------------------


async def register_all(client: GraphQLClient, plan: Plan) -> list[Customer]:
    customers = [Customer(i, f"bench-{i:05d}@bench.example.com") for i in range(plan.customers)]
    gate = asyncio.Semaphore(8)

    async def register(customer: Customer) -> None:
        async with gate:
            variables = {"email": customer.email, "name": f"Bench Customer {customer.index}"}
            try:
                data = await client.execute(REGISTER, {"input": {**variables, "password": CUSTOMER_PASSWORD}})
                customer.id = data["register"]["user"]["id"]
            except GraphQLError:  # registered by an interrupted earlier run: sign in
                customer.id = (await sign_in(client, customer.email))[1]

    await asyncio.gather(*(register(c) for c in customers))
    return customers


async def sign_in(client: GraphQLClient, email: str) -> tuple[str, str]:
    """(token, user id) of a bench customer."""
    data = await client.execute(LOGIN, {"email": email, "password": CUSTOMER_PASSWORD})
    return data["login"]["token"], data["login"]["user"]["id"]


# --- orders and payments, through the services' own code ------------------------


async def write_orders(
    settings: Settings, customers: Sequence[Customer], work: Sequence[tuple[int, int]]
) -> StageCounts:
    """Places and pays `work` ((global order index, customer index) pairs) with the services' code."""
    uri, postgresql = settings.mongodb_uri, settings.ferretdb_postgresql_url
    order_store = OrderStore(MongoDB(uri, "orders", service="orders", ferretdb_postgresql_url=postgresql))
    payment_store = PaymentStore(
        MongoDB(uri, "payments", service="payments", ferretdb_postgresql_url=postgresql)
    )
    await order_store.open()
    try:
        await payment_store.open()
        try:
            return await _write(settings.plan, order_store, payment_store, customers, work)
        finally:
            await payment_store.close()
    finally:
        await order_store.close()


async def _write(
    plan: Plan,
    order_store: OrderStore,
    payment_store: PaymentStore,
    customers: Sequence[Customer],
    work: Sequence[tuple[int, int]],
) -> StageCounts:
    catalog = {product.sku: product for product in await order_store.all_products()}
    skus = sorted(catalog)
    if not skus:
        raise SeedError("the orders service has no catalog (it seeds one at start)")
    payments = Payments(payment_store, CardProcessor(), PaymentSettings())
    project = PaymentsOrderEvents(payment_store, payments)
    counts = StageCounts()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def pay(payer: Principal, order_id: str, card: str, attempt: int) -> str:
        request = PayRequest(
            order_id=order_id,
            card=parse_card(card, 12, 2035, "123", now=datetime.now(UTC)),
            idempotency_key=f"bench-seed-{order_id}-{attempt}",
        )
        payment = await payments.pay_order(payer, request, None)
        counts.payments += 1
        return str(payment.status)

    async def one(index: int, owner: int) -> None:
        customer = customers[owner]
        async with gate:
            lines = rules.merge_lines([rules.Line(i["sku"], i["quantity"]) for i in items_for(index, skus)])
            order = rules.new_order(
                order_id=uuid.uuid4().hex,
                number=rules.order_number(await order_store.next_order_sequence()),
                customer_id=customer.id,
                customer_seq=await order_store.next_customer_position(customer.id),
                priced=rules.price(lines, catalog),
                shipping_address=address_for(owner),
                now=utc_now(),
            )
            event = order_placed(order, None)
            await order_store.insert_order(order, event)
            await project(event)  # what payments' consumer does with order.placed
            payer = Principal(user_id=customer.id, role=Role.CUSTOMER)
            status = await pay(payer, order.id, first_card(plan, index), 1)
            if status == PaymentStatus.FAILED and pays_again(plan, index):
                status = await pay(payer, order.id, GOOD_CARD, 2)
            counts.orders += 1
            counts.captured += status == PaymentStatus.CAPTURED
            assert customer.orders is not None
            customer.orders.append((order.id, status))

    for customer in customers:
        customer.orders = customer.orders or []
    await asyncio.gather(*(one(index, owner) for index, owner in work))
    return counts


# --- waiting for the events ------------------------------------------------------


async def stream_state(events: aioredis.Redis) -> tuple[dict[str, int], bool]:
    """Each stream's length, and whether every consumer group has handled every entry."""
    lengths: dict[str, int] = {}
    handled = True
    for service in STREAMS:
        stream = f"shopgraph.events.{service}"
        lengths[service] = int(await events.xlen(stream))
        if not lengths[service]:
            continue
        last_id = (await events.xinfo_stream(stream))["last-generated-id"]
        for group in await events.xinfo_groups(stream):
            caught_up = group.get("lag") == 0 or group["last-delivered-id"] == last_id
            handled = handled and group["pending"] == 0 and caught_up
    return lengths, handled


async def wait_for_events(
    events: aioredis.Redis, before: dict[str, int], counts: StageCounts, log: Callable[[str], None]
) -> float:
    """Until each stream grew by what the stage wrote and every group handled it all."""
    expected = {"orders": counts.orders, "payments": counts.payments, "delivery": counts.captured}
    started = time.monotonic()
    deadline = started + SETTLE_BASE_SECONDS + SETTLE_SECONDS_PER_ORDER * counts.orders
    next_log = started + 15
    while True:
        lengths, handled = await stream_state(events)
        missing = {s: before.get(s, 0) + n - lengths.get(s, 0) for s, n in expected.items()}
        if handled and all(m <= 0 for m in missing.values()):
            return round(time.monotonic() - started, 1)
        if time.monotonic() > deadline:
            raise SeedError(f"events still in flight after {deadline - started:.0f} s: missing {missing}")
        if time.monotonic() > next_log:
            log(f"  seed: waiting for events: {missing} not yet published, all handled: {handled}")
            next_log += 15
        await asyncio.sleep(1.0)


# --- the whole seed ---------------------------------------------------------------


def record_of(plan: Plan, customers: Sequence[Customer], stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "plan": asdict(plan),
        "stages": stages,
        "customers": [
            {"index": c.index, "email": c.email, "id": c.id, "orders": c.orders or []} for c in customers
        ],
    }


async def ensure_seeded(
    settings: Settings,
    stack: BenchStack,
    log: Callable[[str], None],
    at_small: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Seeds what the recorded data set lacks; `at_small(record)` measures after the first stage."""
    plan = settings.plan
    record: dict[str, Any] | None = None
    if settings.seed_file.exists():
        record = json.loads(settings.seed_file.read_text())
        if record is None or record.get("plan") != asdict(plan):
            raise SystemExit(f"{settings.seed_file} records another plan: remove {settings.stack_dir}")
    owners = order_owners(plan)
    stage_bounds = [(0, plan.small_orders), (plan.small_orders, plan.orders)]
    async with GraphQLClient(settings.router_url, timeout=60.0) as client:
        if record is None:
            started = time.perf_counter()
            customers = await register_all(client, plan)
            log(f"  seed: {len(customers)} customers registered through the router")
            record = record_of(plan, customers, [])
            record["registerSeconds"] = round(time.perf_counter() - started, 1)
        customers = [
            Customer(c["index"], c["email"], c["id"], [tuple(o) for o in c["orders"]])
            for c in record["customers"]
        ]
    events = aioredis.Redis.from_url(settings.events_redis_url, decode_responses=True)
    try:
        for number, (start, end) in enumerate(stage_bounds):
            if number < len(record["stages"]) or start >= end:
                continue
            work = list(enumerate(owners))[start:end]
            log(f"  seed: stage {number + 1}: orders {start + 1}-{end} through orders' and payments' code")
            before, _ = await stream_state(events)
            stack.stop("orders", "payments")
            started = time.perf_counter()
            counts = await write_orders(settings, customers, work)
            written = time.perf_counter() - started
            log(f"  seed: {counts.orders} orders, {counts.payments} payments written in {written:.0f} s")
            stack.start("orders", "payments")
            settled = await wait_for_events(events, before, counts, log)
            log(f"  seed: every event published and handled {settled:.0f} s later")
            stage: dict[str, Any] = {
                **asdict(counts),
                "writeSeconds": round(written, 1),
                "eventSeconds": settled,
            }
            record = record_of(plan, customers, [*record["stages"], stage]) | {
                k: v for k, v in record.items() if k not in ("plan", "stages", "customers")
            }
            if number == 0 and end < plan.orders:
                record["atSmall"] = await at_small(record)
            settings.seed_file.parent.mkdir(parents=True, exist_ok=True)
            settings.seed_file.write_text(json.dumps(record))
    finally:
        await events.aclose()
    return record
