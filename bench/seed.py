"""Seeds the benchmark data set: the first wave through the real API, the rest copied.

    uv run --project bench python -m bench.seed

Through the API (the router), like real customers:
1. the first wave of customers (one with hundreds of orders, the others with a
   few, about WAVE_ORDERS orders in all) register and place their orders;
2. they pay every order with a test card: most with 4242424242424242, every
   `decline_every`-th with a card the processor declines, and half of those are
   paid again with the good card (so PAYMENT_FAILED and recovered orders exist);
3. the seed waits until the delivery service has scheduled a delivery for every
   captured payment (deliveries are created asynchronously from `payment.captured`);
4. as the admin, it moves some deliveries along (IN_TRANSIT, DELIVERED);
5. every other customer registers.

Then, once every event is handled, `bench.clone` copies the first wave's orders,
with their payments and deliveries, to the other customers until the plan's
order count is reached (placing 10,000 orders through the API would take hours
on FerretDB 1.24), and a sample of the copies is read back through the API.

Mutations are sent in alias batches (`o0: placeOrder(...) o1: ...`) with a
bounded number of requests in flight. The result (ids, tracking numbers,
timings) is written to `<stack dir>/bench-seed.json`; when that file exists for
the same plan, seeding is skipped.
"""

import asyncio
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench.client import GraphQLClient, GraphQLError, operation
from bench.clone import OrderBundle, Stores, clone_orders
from bench.config import Settings

GOOD_CARD = "4242424242424242"
DECLINED_CARDS = ("4000000000000002", "4000000000009995")
CUSTOMER_PASSWORD = "bench-customer-password"
ADMIN_EMAIL = "admin@shopgraph.local"
ADMIN_PASSWORD = "admin-password-change-me"
MAX_ROUNDS = 12  # attempts at a failed alias before it is reported as failed
DELIVERY_WAIT_SECONDS = 180.0  # after the last payment, for the events to schedule every delivery
WAVE_ORDERS = 500
REGISTER_ATTEMPTS = 3
SETTLE_SECONDS = 180.0  # for the first wave's events to be published and handled before copying
CHECKED_COPIES = 5  # customers whose copied orders are read back through the API

T = TypeVar("T")


class SeedError(RuntimeError):
    """Seeding cannot go on (the API refuses the very first step)."""


@dataclass(frozen=True)
class SeedPlan:
    customers: int
    orders: int
    heavy_customers: int
    heavy_orders_each: int
    decline_every: int = 20
    advance_every: int = 10  # every 10th delivery goes IN_TRANSIT, every 20th on to DELIVERED
    # Small batches in few requests: a batch runs its mutations one after another
    # in one subgraph request, which must end within the router's subgraph timeout.
    concurrency: int = 8
    batch: int = 5

    @classmethod
    def full(cls) -> "SeedPlan":
        return cls(customers=1000, orders=10_000, heavy_customers=10, heavy_orders_each=300)

    @classmethod
    def quick(cls) -> "SeedPlan":
        return cls(customers=200, orders=2000, heavy_customers=3, heavy_orders_each=150)

    def orders_per_customer(self) -> list[int]:
        """Order counts by customer index: the heavy customers first, the rest spread evenly."""
        rest_customers = self.customers - self.heavy_customers
        rest_orders = self.orders - self.heavy_customers * self.heavy_orders_each
        if rest_customers <= 0 or rest_orders < rest_customers:
            raise ValueError("the plan leaves customers without orders")
        base, extra = divmod(rest_orders, rest_customers)
        counts = [self.heavy_orders_each] * self.heavy_customers
        counts += [base + (1 if i < extra else 0) for i in range(rest_customers)]
        return counts


@dataclass
class SeedOrder:
    id: str
    number: str
    global_index: int
    payment_status: str = ""
    repaid: bool = False
    delivery_id: str | None = None
    tracking_number: str | None = None

    def first_card(self, plan: SeedPlan) -> str:
        if self.global_index % plan.decline_every == plan.decline_every - 1:
            return DECLINED_CARDS[(self.global_index // plan.decline_every) % len(DECLINED_CARDS)]
        return GOOD_CARD

    def pays_again(self, plan: SeedPlan) -> bool:
        """Half of the declined orders are paid again with the good card."""
        return self.first_card(plan) != GOOD_CARD and (self.global_index // plan.decline_every) % 2 == 0


@dataclass
class SeedCustomer:
    index: int
    email: str
    id: str = ""
    token: str = ""
    orders: list[SeedOrder] = field(default_factory=list)

    @property
    def captured(self) -> list[SeedOrder]:
        return [order for order in self.orders if order.payment_status == "CAPTURED"]


@dataclass
class Failures:
    """Every operation that still failed after its retries, by phase (reported, never hidden)."""

    by_phase: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    def add(self, phase: str, message: str) -> None:
        self.by_phase[phase] = self.by_phase.get(phase, 0) + 1
        if len(self.samples) < 20:
            self.samples.append(f"{phase}: {message}")

    @property
    def total(self) -> int:
        return sum(self.by_phase.values())


def address_for(index: int) -> dict[str, Any]:
    return {
        "line1": f"{100 + index % 900} Benchmark Street",
        "line2": None,
        "city": ("Lisbon", "Berlin", "Lyon", "Utrecht", "Porto")[index % 5],
        "postalCode": f"{10000 + index:05d}",
        "country": ("PT", "DE", "FR", "NL", "PT")[index % 5],
    }


def items_for(global_index: int, skus: Sequence[str]) -> list[dict[str, Any]]:
    count = 1 + global_index % 3
    return [
        {"sku": skus[(global_index * 7 + n * 5) % len(skus)], "quantity": 1 + (global_index + n) % 2}
        for n in range(count)
    ]


def batched_mutation(
    field_name: str, input_type: str, selection: str, inputs: Sequence[Any]
) -> tuple[str, dict[str, Any]]:
    """One mutation with an aliased field per input: `o0: field(input: $i0) {...}`."""
    definitions = ", ".join(f"$i{n}: {input_type}!" for n in range(len(inputs)))
    fields = "\n".join(f"  o{n}: {field_name}(input: $i{n}) {selection}" for n in range(len(inputs)))
    return f"mutation Seed({definitions}) {{\n{fields}\n}}", {
        f"i{n}": value for n, value in enumerate(inputs)
    }


def alias_errors(body: dict[str, Any]) -> dict[str, str]:
    """The failed aliases of a partial response, with their messages."""
    failed: dict[str, str] = {}
    for error in body.get("errors") or []:
        path = error.get("path") or ["?"]
        failed[str(path[0])] = f"{error.get('message')} ({error.get('extensions', {}).get('code', '?')})"
    return failed


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Seeder:
    def __init__(self, client: GraphQLClient, stores: Stores, plan: SeedPlan, seconds: float) -> None:
        self.client = client
        self.stores = stores
        self.plan = plan
        self.admin_id = ""
        self.deadline = time.monotonic() + seconds
        self.failures = Failures()
        self.timings: dict[str, float] = {}
        self._gate = asyncio.Semaphore(plan.concurrency)

    async def _bounded(self, work: Awaitable[T]) -> T:
        async with self._gate:
            return await work

    async def _gather(self, works: Sequence[Awaitable[Any]]) -> None:
        await asyncio.gather(*(self._bounded(work) for work in works))

    async def _timed(self, phase: str, work: Awaitable[None]) -> None:
        started = time.perf_counter()
        await work
        self.timings[phase] = round(self.timings.get(phase, 0.0) + time.perf_counter() - started, 2)

    # --- customers ------------------------------------------------------------

    async def register(self, customer: SeedCustomer) -> None:
        """Registers the customer, or signs in if an earlier (interrupted) run registered them."""
        variables = {
            "input": {
                "email": customer.email,
                "name": f"Bench Customer {customer.index}",
                "password": CUSTOMER_PASSWORD,
            }
        }
        last_error = ""
        for attempt in range(REGISTER_ATTEMPTS):
            try:
                try:
                    payload = (await self.client.execute(operation("register"), variables))["register"]
                except GraphQLError:
                    # Taken (an earlier run registered it), or the answer was lost: try signing in.
                    credentials = {"email": customer.email, "password": CUSTOMER_PASSWORD}
                    payload = (await self.client.execute(operation("login"), credentials))["login"]
            except GraphQLError as error:
                last_error = str(error)
                await asyncio.sleep(1.0 + attempt)
                continue
            customer.id = payload["user"]["id"]
            customer.token = payload["token"]
            return
        self.failures.add("register", last_error)

    # --- orders ---------------------------------------------------------------

    async def run_batches(
        self,
        phase: str,
        customer: SeedCustomer,
        field_name: str,
        input_type: str,
        selection: str,
        inputs: Sequence[tuple[Any, dict[str, Any]]],
        on_result: Callable[[Any, dict[str, Any]], None],
        *,
        rounds: int = MAX_ROUNDS,
    ) -> None:
        """Sends (key, input) pairs as alias batches, retrying failed aliases up to `rounds - 1` times."""
        pending = list(inputs)
        for round_number in range(rounds):
            retry: list[tuple[Any, dict[str, Any]]] = []
            last_errors: dict[Any, str] = {}
            for batch in chunks(pending, self.plan.batch):
                query, variables = batched_mutation(field_name, input_type, selection, [i for _, i in batch])
                try:
                    body = await self.client.execute_partial(query, variables, token=customer.token)
                except GraphQLError as error:
                    retry.extend(batch)
                    last_errors.update({key: str(error) for key, _ in batch})
                    continue
                failed = alias_errors(body)
                for n, (key, value) in enumerate(batch):
                    result = body["data"].get(f"o{n}")
                    if result is None:
                        retry.append((key, value))
                        last_errors[key] = failed.get(f"o{n}", "no data")
                    else:
                        on_result(key, result)
            if not retry:
                return
            pending = retry
            if round_number == rounds - 1 or self.past_deadline():
                for key, _ in pending:
                    self.failures.add(phase, last_errors.get(key, "failed"))
                return
            await asyncio.sleep(min(0.5 * 2**round_number, 5.0))

    async def place_orders(
        self, customer: SeedCustomer, count: int, first_index: int, skus: Sequence[str]
    ) -> None:
        inputs = [
            (
                first_index + k,
                {"items": items_for(first_index + k, skus), "shippingAddress": address_for(customer.index)},
            )
            for k in range(count)
        ]

        def placed(global_index: Any, result: dict[str, Any]) -> None:
            customer.orders.append(
                SeedOrder(id=result["id"], number=result["number"], global_index=global_index)
            )

        # placeOrder has no idempotency key: an order whose answer was lost may
        # exist all the same, so a failed placement is reported, never retried.
        await self.run_batches(
            "placeOrder",
            customer,
            "placeOrder",
            "PlaceOrderInput",
            "{ id number status }",
            inputs,
            placed,
            rounds=1,
        )
        customer.orders.sort(key=lambda order: order.global_index)

    async def pay_orders(self, customer: SeedCustomer, targets: Sequence[SeedOrder], *, again: bool) -> None:
        orders = {order.id: order for order in targets}
        attempt = 2 if again else 1
        inputs = [
            (
                order.id,
                {
                    "orderId": order.id,
                    "card": {
                        "number": GOOD_CARD if again else order.first_card(self.plan),
                        "expMonth": 12,
                        "expYear": 2035,
                        "cvc": "123",
                    },
                    "idempotencyKey": f"bench-seed-{order.id}-{attempt}",
                },
            )
            for order in targets
        ]

        def paid(order_id: Any, result: dict[str, Any]) -> None:
            orders[order_id].payment_status = result["status"]
            orders[order_id].repaid = again

        phase = "payOrder (again)" if again else "payOrder"
        await self.run_batches(phase, customer, "payOrder", "PayOrderInput", "{ id status }", inputs, paid)

    # --- deliveries -----------------------------------------------------------

    async def read_deliveries(self, customer: SeedCustomer) -> bool:
        """Reads the customer's orders; True when every captured order has its delivery."""
        by_id = {order.id: order for order in customer.orders}
        after: str | None = None
        for _ in range(1 + len(customer.orders) // 100):
            data = await self.client.execute(
                operation("my_orders"), {"first": 100, "after": after}, token=customer.token
            )
            page = data["me"]["orders"]
            for node in page["nodes"]:
                order = by_id.get(node["id"])
                if order is not None and node["delivery"] is not None:
                    order.delivery_id = node["delivery"]["id"]
                    order.tracking_number = node["delivery"]["trackingNumber"]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        return all(order.tracking_number for order in customer.captured)

    async def wait_for_deliveries(self, customers: Sequence[SeedCustomer]) -> None:
        waiting = [c for c in customers if c.captured]
        while waiting and not self.past_deadline():
            done = await asyncio.gather(*(self._bounded(self.read_deliveries(c)) for c in waiting))
            waiting = [c for c, complete in zip(waiting, done, strict=True) if not complete]
            if waiting:
                missing = sum(1 for c in waiting for o in c.captured if not o.tracking_number)
                print(f"  seed: waiting for {missing} deliveries to be scheduled")
                await asyncio.sleep(2.0)
        for customer in waiting:
            for order in customer.captured:
                if not order.tracking_number:
                    self.failures.add(
                        "delivery",
                        f"order {order.id} captured but no delivery within {DELIVERY_WAIT_SECONDS:.0f} s",
                    )

    async def advance_deliveries(self, customers: Sequence[SeedCustomer]) -> None:
        data = await self.client.execute(
            operation("login"), {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        admin = SeedCustomer(index=-1, email=ADMIN_EMAIL, token=data["login"]["token"])
        self.admin_id = data["login"]["user"]["id"]
        delivered = [o for c in customers for o in c.captured if o.delivery_id]
        steps = [
            (o, status)
            for o in delivered
            if o.global_index % self.plan.advance_every == 0
            for status in (
                ["IN_TRANSIT", "DELIVERED"]
                if o.global_index % (2 * self.plan.advance_every) == 0
                else ["IN_TRANSIT"]
            )
        ]
        for status in ("IN_TRANSIT", "DELIVERED"):
            ids = [o.delivery_id for o, s in steps if s == status]
            await self._gather(
                [self._update_status(admin, chunk, status) for chunk in chunks(ids, self.plan.batch)]
            )

    async def _update_status(
        self, admin: SeedCustomer, delivery_ids: Sequence[str | None], status: str
    ) -> None:
        definitions = ", ".join(f"$d{n}: ID!" for n in range(len(delivery_ids)))
        fields = "\n".join(
            f'  o{n}: updateDeliveryStatus(id: $d{n}, status: {status}, note: "bench seed") {{ id status }}'
            for n in range(len(delivery_ids))
        )
        variables = {f"d{n}": delivery_id for n, delivery_id in enumerate(delivery_ids)}
        try:
            body = await self.client.execute_partial(
                f"mutation Advance({definitions}) {{\n{fields}\n}}", variables, token=admin.token
            )
        except GraphQLError as error:
            for _ in delivery_ids:
                self.failures.add("updateDeliveryStatus", str(error))
            return
        for message in alias_errors(body).values():
            self.failures.add("updateDeliveryStatus", message)

    # --- the whole run --------------------------------------------------------

    def past_deadline(self) -> bool:
        return time.monotonic() >= self.deadline

    async def seed_wave(self, wave: Sequence[tuple[SeedCustomer, int, int]], skus: Sequence[str]) -> None:
        """Registers a few customers, then places and pays their orders.

        `wave` holds (customer, order count, global index of their first order).
        """
        await self._timed("register", self._gather([self.register(customer) for customer, _, _ in wave]))
        active = [(customer, count, first) for customer, count, first in wave if customer.token]
        span = self.plan.batch * 2
        # Big customers are split so that their batches run in parallel too.
        await self._timed(
            "placeOrder",
            self._gather(
                [
                    self.place_orders(customer, min(span, count - start), first + start, skus)
                    for customer, count, first in active
                    for start in range(0, count, span)
                ]
            ),
        )
        # Payments learns of an order from its order.placed event; paying before
        # that arrives is refused (NOT_FOUND), as it would be for a real client.
        await self._timed("settle", self.wait_until_settled())
        await self._timed(
            "payOrder",
            self._gather(
                [
                    self.pay_orders(customer, chunk, again=False)
                    for customer, _, _ in active
                    for chunk in chunks(customer.orders, span)
                ]
            ),
        )
        await self._timed(
            "payOrder (again)",
            self._gather(
                [
                    self.pay_orders(
                        customer, [o for o in customer.orders if o.pays_again(self.plan)], again=True
                    )
                    for customer, _, _ in active
                ]
            ),
        )

    def waves(self, customers: Sequence[SeedCustomer]) -> list[list[tuple[SeedCustomer, int, int]]]:
        """Customers in groups of about WAVE_ORDERS orders: each heavy customer with regular ones.

        Seeding wave by wave means that a run stopped by its deadline leaves
        whole customers (registered, orders paid, deliveries scheduled), and
        already the first wave has both kinds the scenarios need.
        """
        entries: list[tuple[SeedCustomer, int, int]] = []
        first_index = 0
        for customer, count in zip(customers, self.plan.orders_per_customer(), strict=True):
            entries.append((customer, count, first_index))
            first_index += count
        heavy, regular = entries[: self.plan.heavy_customers], entries[self.plan.heavy_customers :]
        waves: list[list[tuple[SeedCustomer, int, int]]] = []
        while heavy or regular:
            wave = [heavy.pop(0)] if heavy else []
            while regular and sum(count for _, count, _ in wave) + regular[0][1] <= WAVE_ORDERS:
                wave.append(regular.pop(0))
            waves.append(wave)
        return waves

    async def wait_until_settled(self) -> None:
        """Until every outbox is empty and every consumer group has handled every event."""
        deadline = time.monotonic() + SETTLE_SECONDS
        quiet_checks = 0
        while quiet_checks < 2:
            unsettled = await asyncio.to_thread(self.stores.unsettled)
            quiet_checks = 0 if unsettled else quiet_checks + 1
            if unsettled and time.monotonic() >= deadline:
                self.failures.add("settle", f"in flight after {SETTLE_SECONDS:.0f} s: {unsettled}")
                return
            await asyncio.sleep(1.0)

    def copy_orders(
        self,
        wave: Sequence[SeedCustomer],
        targets: Sequence[tuple[SeedCustomer, int, int]],
        user_ids: frozenset[str],
    ) -> None:
        """Copies the wave's orders to `targets` (customer, order count, first global index)."""
        sources = {order.id: order for customer in wave for order in customer.orders}
        in_order = sorted(sources, key=lambda order_id: sources[order_id].global_index)
        templates = self.stores.read_bundles(in_order)
        if not templates:
            raise SeedError("the first wave left no order to copy")
        by_id = {customer.id: customer for customer, _, _ in targets if customer.id}

        def copied(customer_id: str, global_index: int, template: OrderBundle, copy: OrderBundle) -> None:
            source = sources[template.order_id]
            by_id[customer_id].orders.append(
                SeedOrder(
                    id=copy.order_id,
                    number=copy.number,
                    global_index=global_index,
                    payment_status=source.payment_status,
                    repaid=source.repaid,
                    delivery_id=copy.delivery.id if copy.delivery else None,
                    tracking_number=copy.delivery.tracking_number if copy.delivery else None,
                )
            )

        plan = [(customer.id, count, first) for customer, count, first in targets if customer.id]
        clone_orders(self.stores, templates, plan, user_ids, copied)

    async def check_copies(self, customers: Sequence[SeedCustomer]) -> None:
        """Reads some copied customers' newest orders through the API: the ids and deliveries recorded."""
        for customer in customers:
            expected = {order.id: order.tracking_number for order in customer.orders}
            try:
                data = await self.client.execute(
                    operation("my_orders"), {"first": 100, "after": None}, token=customer.token
                )
            except GraphQLError as error:
                self.failures.add("copy check", str(error))
                continue
            nodes = data["me"]["orders"]["nodes"]
            if len(nodes) != min(100, len(expected)):
                self.failures.add("copy check", f"{customer.email}: {len(nodes)} orders read back")
            for node in nodes:
                tracking = (node["delivery"] or {}).get("trackingNumber")
                if node["id"] not in expected or expected[node["id"]] != tracking:
                    self.failures.add("copy check", f"{customer.email}: order {node['id']} differs")

    async def run(self) -> list[SeedCustomer]:
        customers = [
            SeedCustomer(index=i, email=f"bench-{i:05d}@bench.example.com")
            for i in range(self.plan.customers)
        ]
        products = await self.client.execute(operation("products"))
        skus = [product["sku"] for product in products["products"]]
        first_wave, *other_waves = self.waves(customers)
        await self.seed_wave(first_wave, skus)
        wave = [customer for customer, _, _ in first_wave if customer.orders]
        if not wave:
            raise SeedError("the first wave placed no order: " + "; ".join(self.failures.samples[:3]))
        print(f"  seed: first wave through the API: {sum(len(c.orders) for c in wave)} orders")
        self.deadline = time.monotonic() + DELIVERY_WAIT_SECONDS
        await self._timed("delivery", self.wait_for_deliveries(wave))
        await self._timed("updateDeliveryStatus", self.advance_deliveries(wave))
        targets = [entry for later_wave in other_waves for entry in later_wave]
        await self._timed("register", self._gather([self.register(customer) for customer, _, _ in targets]))
        await self._timed("settle", self.wait_until_settled())
        user_ids = frozenset(customer.id for customer in customers if customer.id) | {self.admin_id}
        await self._timed("copy", asyncio.to_thread(self.copy_orders, wave, targets, user_ids))
        copied = [customer for customer, _, _ in targets if customer.orders]
        print(f"  seed: copied {sum(len(c.orders) for c in copied)} orders to {len(copied)} customers")
        sample = random.Random(6).sample(copied, min(CHECKED_COPIES, len(copied)))
        await self._timed("copy check", self.check_copies(sample))
        return [customer for customer in customers if customer.orders]


def summary(
    plan: SeedPlan, customers: Sequence[SeedCustomer], seeder: Seeder, seconds: float
) -> dict[str, Any]:
    orders = [order for customer in customers for order in customer.orders]
    statuses: dict[str, int] = {}
    for order in orders:
        key = order.payment_status or "UNPAID"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "plan": asdict(plan),
        "complete": seeder.failures.total == 0,
        "seconds": round(seconds, 1),
        "phaseSeconds": seeder.timings,
        "counts": {
            "customers": len(customers),
            "orders": len(orders),
            "ordersByLastPaymentStatus": statuses,
            "repaidAfterDecline": sum(1 for order in orders if order.repaid),
            "deliveries": sum(1 for order in orders if order.tracking_number),
            "maxOrdersPerCustomer": max((len(c.orders) for c in customers), default=0),
        },
        "failures": {
            "total": seeder.failures.total,
            "byPhase": seeder.failures.by_phase,
            "samples": seeder.failures.samples,
        },
        "password": CUSTOMER_PASSWORD,
        "customers": [
            {
                "id": customer.id,
                "email": customer.email,
                "orderIds": [order.id for order in customer.orders],
                "paidOrderIds": [order.id for order in customer.captured if order.tracking_number],
                "trackingNumbers": [
                    order.tracking_number for order in customer.captured if order.tracking_number
                ],
            }
            for customer in customers
        ],
    }


def load_existing(seed_file: Path, plan: SeedPlan) -> dict[str, Any] | None:
    """The recorded data set, if one was seeded with this plan (its failures, if any, stay recorded)."""
    if not seed_file.exists():
        return None
    recorded: dict[str, Any] = json.loads(seed_file.read_text())
    if recorded.get("plan") == asdict(plan):
        return recorded
    return None


async def ensure_seeded(settings: Settings, plan: SeedPlan) -> dict[str, Any]:
    """Seeds unless a complete data set for this plan is already recorded in the stack directory."""
    existing = load_existing(settings.seed_file, plan)
    if existing is not None:
        print(
            f"  seed: data set already present ({settings.seed_file}, "
            f"seeded in {existing['seconds']} s); skipping"
        )
        existing["skipped"] = True
        return existing
    if settings.seed_file.exists():
        raise SystemExit(
            f"{settings.seed_file} records a data set of another plan. Remove the bench stack "
            f"directory ({settings.stack_dir}) to seed afresh."
        )
    print(
        f"  seed: {plan.customers} customers, {plan.orders} orders, {plan.heavy_customers} customers with "
        f"{plan.heavy_orders_each} orders each, {plan.concurrency} requests in flight"
    )
    started = time.perf_counter()
    stores = Stores(settings.mongodb_uri, settings.delivery_redis_url, settings.redis_url)
    try:
        async with GraphQLClient(
            settings.router_url, timeout=60.0, max_connections=plan.concurrency
        ) as client:
            seeder = Seeder(client, stores, plan, settings.seed_seconds)
            customers = await seeder.run()
    finally:
        stores.close()
    recorded = summary(plan, customers, seeder, time.perf_counter() - started)
    settings.seed_file.parent.mkdir(parents=True, exist_ok=True)
    settings.seed_file.write_text(json.dumps(recorded))
    counts = recorded["counts"]
    print(
        f"  seed: {counts['customers']} customers, {counts['orders']} orders, "
        f"{counts['deliveries']} deliveries in {recorded['seconds']} s; "
        f"{recorded['failures']['total']} failures"
    )
    for sample in recorded["failures"]["samples"]:
        print(f"    {sample}")
    recorded["skipped"] = False
    return recorded


def main() -> None:
    settings = Settings.from_env()
    plan = SeedPlan.quick() if settings.quick else SeedPlan.full()
    recorded = asyncio.run(ensure_seeded(settings, plan))
    sys.exit(0 if recorded["complete"] else 1)


if __name__ == "__main__":
    main()
