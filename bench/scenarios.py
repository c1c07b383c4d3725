"""The scenarios. Every request is distinct (its own customer, token and
variables: the router deduplicates identical in-flight subgraph requests) and
every response is checked (HTTP 200, no `errors`, the shape asked for)."""

import asyncio
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import redis
from pymongo import MongoClient

from bench.client import GraphQLClient, GraphQLError, operation
from bench.config import SUBGRAPHS, Settings
from bench.delivery_ts import typescript_delivery
from bench.probes import ProcessSampler, StoreMetrics, per_request
from bench.seed import GOOD_CARD, address_for, items_for, sign_in
from bench.vegeta import Request, Summary, Vegeta, percentile
from shopkit.events.envelope import Event, stream_for
from shopkit.events.streams import EVENT_FIELD

GROWTH_SIZES = (1, 10, 100)
MIX_WEIGHTS = {"products": 35, "orderDetails": 25, "trackDelivery": 15, "placeOrder": 15, "payOrder": 10}
MIX_P99_MS = 100.0
MIX_MIN_REQUESTS = 50
MIX_STEP_FACTOR = 1.5
SIGNED_IN_CUSTOMERS = 200
BACKGROUND_SECONDS = 3.0
MAX_PAY_ATTEMPTS = 20
LOAD_GENERATOR = "vegeta (load generator)"


@dataclass
class Shopper:
    id: str
    token: str
    index: int
    paid: list[str]  # captured orders with their delivery
    tracking: list[str]


@dataclass
class Context:
    shoppers: list[Shopper]  # customers with a few orders each
    heavy: list[Shopper]  # the customers with hundreds or thousands of orders
    heavy_orders: int


async def build_context(settings: Settings, record: Mapping[str, Any]) -> Context:
    """Signs in the customers the scenarios act as and reads their deliveries through the API."""
    plan = settings.plan
    customers = [c for c in record["customers"] if c["orders"]]
    heavy = [c for c in customers if c["index"] < plan.heavy_customers]
    regular = [
        c
        for c in customers
        if c["index"] >= plan.heavy_customers and any(s == "CAPTURED" for _, s in c["orders"])
    ]
    chosen = random.Random(6).sample(regular, min(SIGNED_IN_CUSTOMERS, len(regular)))
    gate = asyncio.Semaphore(8)
    async with GraphQLClient(settings.router_url) as client:

        async def shopper(customer: Mapping[str, Any]) -> Shopper:
            async with gate:
                token, user_id = await sign_in(client, customer["email"])
                data = await client.execute(operation("my_orders"), {"first": 20}, token=token)
            nodes = data["me"]["orders"]["nodes"]
            done = [
                n for n in nodes if n["delivery"] and any(p["status"] == "CAPTURED" for p in n["payments"])
            ]
            return Shopper(
                user_id,
                token,
                customer["index"],
                [n["id"] for n in done],
                [n["delivery"]["trackingNumber"] for n in done],
            )

        shoppers = await asyncio.gather(*(shopper(c) for c in chosen))
        heavies = await asyncio.gather(*(shopper(c) for c in heavy))
    with_deliveries = [s for s in shoppers if s.paid]
    if not with_deliveries:
        raise GraphQLError("no seeded customer has a paid order with its delivery")
    return Context(with_deliveries, list(heavies), min(len(c["orders"]) for c in heavy) if heavy else 0)


# --- requests and their checks ----------------------------------------------------


def _products(data: dict[str, Any]) -> str | None:
    products = data.get("products") or []
    return None if products and all(p.get("sku") and p.get("price") for p in products) else "no products"


def products_request(url: str, shopper: Shopper) -> Request:
    return Request(url, operation("products"), {}, _products, "products", shopper.token)


def details_request(url: str, shopper: Shopper, order_id: str) -> Request:
    def check(data: dict[str, Any]) -> str | None:
        order = data.get("order") or {}
        if order.get("id") != order_id or (order.get("customer") or {}).get("id") != shopper.id:
            return f"order {order_id} of {shopper.id}: got {str(order)[:100]}"
        if not order.get("items") or not any(p["status"] == "CAPTURED" for p in order.get("payments") or []):
            return f"order {order_id}: no items or no captured payment"
        return None if order.get("delivery") else f"order {order_id}: no delivery"

    return Request(url, operation("order_details"), {"id": order_id}, check, "orderDetails", shopper.token)


def track_request(url: str, tracking: str) -> Request:
    def check(data: dict[str, Any]) -> str | None:
        delivery = data.get("trackDelivery") or {}
        return None if delivery.get("trackingNumber") == tracking else f"tracking {tracking}: {delivery}"

    return Request(url, operation("track_delivery"), {"trackingNumber": tracking}, check, "trackDelivery")


DELIVERY_ENTITIES = """
    query($representations: [_Any!]!) {
      _entities(representations: $representations) {
        ... on Delivery { id status carrier trackingNumber estimatedDelivery updatedAt }
      }
    }
"""
USER_DELIVERY_IDS = """
    query($representations: [_Any!]!) {
      _entities(representations: $representations) { ... on User { deliveries { id } } }
    }
"""
ENTITY_BATCH = 100


def delivery_entities_request(url: str, shopper: Shopper, delivery_ids: Sequence[str]) -> Request:
    """`_entities` for a batch of Delivery representations, sent to a delivery subgraph as a router would."""

    def check(data: dict[str, Any]) -> str | None:
        found = [entity.get("id") if entity else None for entity in data.get("_entities") or []]
        return (
            None
            if found == list(delivery_ids)
            else f"entities of {len(delivery_ids)}: got {str(found)[:100]}"
        )

    representations = [{"__typename": "Delivery", "id": delivery_id} for delivery_id in delivery_ids]
    return Request(
        url, DELIVERY_ENTITIES, {"representations": representations}, check, "deliveryEntities", shopper.token
    )


def my_orders_request(url: str, shopper: Shopper, first: int) -> Request:
    def check(data: dict[str, Any]) -> str | None:
        me = data.get("me") or {}
        nodes = (me.get("orders") or {}).get("nodes") or []
        if me.get("id") != shopper.id or len(nodes) != first:
            return f"me {shopper.id}: {len(nodes)} orders, {first} asked"
        return None if all(isinstance(n["payments"], list) for n in nodes) else "an order without payments"

    return Request(url, operation("my_orders"), {"first": first}, check, f"myOrders({first})", shopper.token)


def place_input(shopper: Shopper, index: int, skus: Sequence[str]) -> dict[str, Any]:
    return {"input": {"items": items_for(index, skus), "shippingAddress": address_for(shopper.index)}}


def _placed(data: dict[str, Any]) -> str | None:
    order = data.get("placeOrder") or {}
    return None if order.get("id") and order.get("status") == "PENDING_PAYMENT" else f"placed {order}"


def place_request(url: str, shopper: Shopper, index: int, skus: Sequence[str]) -> Request:
    return Request(
        url, operation("place_order"), place_input(shopper, index, skus), _placed, "placeOrder", shopper.token
    )


def pay_input(order_id: str) -> dict[str, Any]:
    card = {"number": GOOD_CARD, "expMonth": 12, "expYear": 2035, "cvc": "123"}
    return {"input": {"orderId": order_id, "card": card, "idempotencyKey": f"bench-{uuid.uuid4().hex}"}}


def _paid(data: dict[str, Any]) -> str | None:
    payment = data.get("payOrder") or {}
    return None if payment.get("status") == "CAPTURED" else f"payOrder: {payment}"


def pay_request(url: str, shopper: Shopper, order_id: str) -> Request:
    return Request(url, operation("pay_order"), pay_input(order_id), _paid, "payOrder", shopper.token)


def cycle(n: int, build: Callable[[int], Request]) -> list[Request]:
    return [build(i) for i in range(n)]


# --- the runner ---------------------------------------------------------------------


class Scenarios:
    def __init__(
        self, settings: Settings, vegeta: Vegeta, pids: Mapping[str, int], log: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.vegeta = vegeta
        self.pids = dict(pids)
        self.log = log
        self.durations = settings.durations
        self.metrics = StoreMetrics({name: settings.metrics_url(name) for name in SUBGRAPHS})
        self.skus: list[str] = []

    def measure(
        self, label: str, requests: Sequence[Request], *, rate: float, seconds: float, workers: int
    ) -> dict[str, Any]:
        """One vegeta run with the CPU and peak RSS of every stack process and of vegeta."""
        with ProcessSampler(self.pids) as sampler:
            record = self.vegeta.attack(
                label, requests, rate=rate, seconds=seconds, workers=workers,
                on_start=lambda pid: sampler.add(LOAD_GENERATOR, pid),
            )  # fmt: skip
        record["processes"] = sampler.record()
        lat = record["latencyMs"]
        self.log(
            f"    {label}: {record['requests']} requests, {record['requestsPerSecond']} req/s, "
            f"p50 {lat['p50']} ms, p99 {lat['p99']} ms, errors {record['errors']}"
        )
        for sample in record["errorSamples"][:3]:
            self.log(f"      {sample}")
        return record

    def warm_up(self, requests: Sequence[Request]) -> None:
        self.vegeta.attack("warmup", requests, rate=0, seconds=2, workers=4)

    def details_requests(self, context: Context, url: str) -> list[Request]:
        pairs = [(s, order) for s in context.shoppers for order in s.paid]
        random.Random(3).shuffle(pairs)
        return [details_request(url, s, order) for s, order in pairs]

    # 1. router overhead ----------------------------------------------------------------

    def router_overhead(self, context: Context) -> dict[str, Any]:
        self.log("  router overhead: products at 25 req/s straight to orders, then through the router")
        shoppers, seconds = context.shoppers, self.durations.overhead
        runs = {}
        for label, url in (
            ("direct", self.settings.subgraph_url("orders")),
            ("router", self.settings.router_url),
        ):
            requests = [products_request(url, shoppers[i % len(shoppers)]) for i in range(25 * seconds + 50)]
            self.warm_up(requests[:50])
            runs[label] = self.measure(f"overhead-{label}", requests, rate=25, seconds=seconds, workers=4)
        added = {
            stat: round(runs["router"]["latencyMs"][stat] - runs["direct"]["latencyMs"][stat], 2)
            for stat in ("p50", "p99")
        }
        self.log(f"    the router adds {added['p50']} ms at p50, {added['p99']} ms at p99")
        return {"runs": runs, "addedLatencyMs": added}

    # 2. Apollo Router vs Apollo Gateway, and order details at both data sizes ----------

    def order_details(self, context: Context, label: str, url: str) -> dict[str, Any]:
        requests = self.details_requests(context, url)
        self.warm_up(requests[-200:])
        return self.measure(label, requests, rate=0, seconds=self.durations.details, workers=8)

    def router_vs_gateway(self, context: Context, gateway: bool) -> dict[str, Any]:
        self.log(
            "  order details (four subgraphs), 8 workers as fast as they go: Apollo Router, Apollo Gateway"
        )
        runs = {"router": self.order_details(context, "details-router", self.settings.router_url)}
        if not gateway:
            return {"runs": runs, "error": "Apollo Gateway did not start"}
        runs["gateway"] = self.order_details(context, "details-gateway", self.settings.gateway_url)
        router, gw = runs["router"], runs["gateway"]
        cpu = {
            "router": 1000
            * router["processes"].get("router", {}).get("cpuSeconds", 0)
            / max(router["requests"], 1),
            "gateway": 1000
            * gw["processes"].get("gateway", {}).get("cpuSeconds", 0)
            / max(gw["requests"], 1),
        }
        return {
            "runs": runs,
            "throughputRatio": round(router["requestsPerSecond"] / max(gw["requestsPerSecond"], 1e-9), 2),
            "routerCpuMsPerRequest": {k: round(v, 2) for k, v in cpu.items()},
        }

    # 2b. the two implementations of delivery ---------------------------------------------

    def delivery_implementations(self, context: Context) -> dict[str, Any]:
        """The Python and the TypeScript delivery on the same data, sent the same requests directly:
        `_entities` for 100 Delivery representations, and trackDelivery; req/s and CPU per request."""
        self.log(
            "  delivery, Python vs TypeScript: _entities of 100 deliveries, trackDelivery; 4 workers flat out"
        )
        python_url = self.settings.subgraph_url("delivery")
        batches = asyncio.run(self._delivery_batches(python_url, context.heavy))
        tracking = [number for shopper in context.shoppers for number in shopper.tracking]
        runs: dict[str, Any] = {}
        cpu: dict[str, float] = {}
        with typescript_delivery(self.settings) as typescript:
            self.pids["delivery-ts"] = typescript.pid
            try:
                for implementation, url, process in (
                    ("python", python_url, "delivery"),
                    ("typescript", typescript.url, "delivery-ts"),
                ):
                    for operation_name, requests in (
                        ("entities", [delivery_entities_request(url, s, ids) for s, ids in batches]),
                        ("track", [track_request(url, tracking[i % len(tracking)]) for i in range(2000)]),
                    ):
                        label = f"{operation_name}-{implementation}"
                        self.warm_up(requests[:20])
                        record = self.measure(
                            label, requests, rate=0, seconds=self.durations.overhead, workers=4
                        )
                        runs[label] = record
                        used = record["processes"].get(process, {}).get("cpuSeconds", 0)
                        cpu[label] = round(1000 * used / max(record["requests"], 1), 3)
            finally:
                self.pids.pop("delivery-ts", None)
        sizes = [len(ids) for _, ids in batches]
        return {"runs": runs, "cpuMsPerRequest": cpu, "entitiesPerRequest": round(sum(sizes) / len(sizes), 1)}

    async def _delivery_batches(self, url: str, heavy: Sequence[Shopper]) -> list[tuple[Shopper, list[str]]]:
        """Batches of up to 100 delivery ids, each of one heavy customer (who may read them all)."""
        batches: list[tuple[Shopper, list[str]]] = []
        async with GraphQLClient(url) as client:
            for shopper in heavy:
                representations = [{"__typename": "User", "id": shopper.id}]
                data = await client.execute(
                    USER_DELIVERY_IDS, {"representations": representations}, token=shopper.token
                )
                ids = [d["id"] for d in data["_entities"][0]["deliveries"]]
                # Whole batches of 100; a customer with fewer deliveries gives one batch of them all.
                starts = range(0, max(len(ids) - ENTITY_BATCH, 0) + 1, ENTITY_BATCH)
                batches += [(shopper, ids[start : start + ENTITY_BATCH]) for start in starts if ids]
        if not batches:
            raise RuntimeError("no heavy customer has a delivery to ask for")
        return batches

    # 3. cost growth ------------------------------------------------------------------------

    def cost_growth(self, context: Context) -> dict[str, Any]:
        self.log("  cost growth: me { orders(first: N) { nodes { payments delivery } } }, one at a time")
        if context.heavy_orders < max(GROWTH_SIZES):
            raise RuntimeError(
                f"the heavy customers have {context.heavy_orders} orders, not {max(GROWTH_SIZES)}"
            )
        runs = []
        url, heavy = self.settings.router_url, context.heavy
        for first in GROWTH_SIZES:
            requests = [
                my_orders_request(url, heavy[i % len(heavy)], first)
                for i in range(50 * self.durations.growth)
            ]
            self.warm_up(requests[:10])
            idle_before = self.metrics.snapshot()
            time.sleep(BACKGROUND_SECONDS)
            idle = per_request(idle_before, self.metrics.snapshot(), 1)
            before = self.metrics.snapshot()
            record = self.measure(
                f"growth-{first}", requests, rate=0, seconds=self.durations.growth, workers=1
            )
            costs = per_request(before, self.metrics.snapshot(), record["requests"])
            # What the relays and consumers did meanwhile, at the rate measured just before.
            share = (record["seconds"] / BACKGROUND_SECONDS) / max(record["requests"], 1)
            costs["storeCallsPerRequest"] = round(
                max(costs["storeCallsPerRequest"] - idle["storeCallsPerRequest"] * share, 0), 2
            )
            costs["storeCommandsPerRequest"] = round(
                max(costs["storeCommandsPerRequest"] - idle["storeCommandsPerRequest"] * share, 0), 2
            )
            self.log(
                f"    N={first}: {costs['storeCallsPerRequest']} store calls, "
                f"{costs['storeCommandsPerRequest']} commands per request"
            )
            runs.append({**record, "first": first, **costs})
        return {"runs": runs}

    # 4. mixed storefront traffic -------------------------------------------------------------

    async def place_orders(self, shoppers: Sequence[Shopper], count: int) -> list[tuple[Shopper, str]]:
        """Orders for the mix's payOrder requests to pay, placed through the router beforehand."""
        gate = asyncio.Semaphore(8)
        async with GraphQLClient(self.settings.router_url) as client:

            async def place(i: int) -> tuple[Shopper, str]:
                shopper = shoppers[i % len(shoppers)]
                async with gate:
                    data = await client.execute(
                        operation("place_order"), place_input(shopper, i, self.skus), token=shopper.token
                    )
                return shopper, str(data["placeOrder"]["id"])

            return list(await asyncio.gather(*(place(i) for i in range(count))))

    def mix_requests(self, context: Context, rate: float, seconds: float) -> list[Request]:
        total = math.ceil(rate * seconds * 1.1) + 10
        url, shoppers = self.settings.router_url, context.shoppers
        counts = {op: math.ceil(total * w / 100) for op, w in MIX_WEIGHTS.items()}
        to_pay = asyncio.run(self.place_orders(shoppers, counts["payOrder"]))
        # These orders were placed a while ago: payments knows them (the shoppers pay at once).
        self.wait_until_known([order_id for _, order_id in to_pay])
        details = self.details_requests(context, url)
        tracking = [t for s in shoppers for t in s.tracking]
        offset = random.Random().randrange(1_000_000)
        requests = (
            cycle(counts["products"], lambda i: products_request(url, shoppers[i % len(shoppers)]))
            + [details[i % len(details)] for i in range(counts["orderDetails"])]
            + cycle(counts["trackDelivery"], lambda i: track_request(url, tracking[i % len(tracking)]))
            + cycle(
                counts["placeOrder"],
                lambda i: place_request(url, shoppers[i % len(shoppers)], offset + i, self.skus),
            )
            + [pay_request(url, shopper, order_id) for shopper, order_id in to_pay]
        )
        random.Random(5).shuffle(requests)
        return requests

    def mixed_traffic(self, context: Context) -> dict[str, Any]:
        seconds, rate = self.durations.mix_step, self.settings.mix_start_rate
        self.log(f"  mixed storefront traffic: fixed arrival rate, {seconds} s steps from {rate:g} req/s")
        steps = []
        for step in range(self.durations.mix_steps):
            requests = self.mix_requests(context, rate, seconds)
            record = self.measure(f"mix-{rate:g}", requests, rate=rate, seconds=seconds, workers=64)
            record["held"] = (
                record["errors"] == 0
                and record["requests"] >= MIX_MIN_REQUESTS
                and record["latencyMs"]["p99"] < MIX_P99_MS
            )
            steps.append(record)
            if record["held"]:
                rate = round(rate * MIX_STEP_FACTOR, 1)
            elif any(s["held"] for s in steps) or step > 0:
                break
            else:  # the first step did not hold: one step at half the rate
                rate = round(rate / 2, 1)
        held = [s["rate"] for s in steps if s["held"]]
        return {
            "steps": steps,
            "highestHeldRate": max(held, default=0.0),
            "criteria": f"p99 < {MIX_P99_MS:g} ms, 0 errors",
        }

    # 5. shoppers placing and paying at once ------------------------------------------------------

    def shoppers(self, context: Context) -> dict[str, Any]:
        count, seconds = self.settings.shoppers, self.durations.shoppers
        self.log(f"  {count} shoppers placing orders and paying each at once, {seconds} s")
        if len(context.shoppers) < count:
            raise RuntimeError(f"only {len(context.shoppers)} customers signed in, {count} needed")
        started_ms = int(1000 * time.time())
        with ProcessSampler(self.pids) as sampler:
            result = asyncio.run(self._shop(context.shoppers[:count], seconds))
        result["processes"] = sampler.record()
        result["lagMs"] = self.placed_to_known_lag(result.pop("orderIds"), started_ms)
        lag = result["lagMs"]
        self.log(
            f"    {result['orders']} orders, first-try payOrder {result['firstTrySuccessPercent']} %, "
            f"lag p50 {lag['p50']} ms p99 {lag['p99']} ms (placed -> stream p99 "
            f"{lag['placedToStream']['p99']} ms, stream -> known p99 {lag['streamToKnown']['p99']} ms), "
            f"errors {result['errors']}"
        )
        return result

    async def _shop(self, shoppers: Sequence[Shopper], seconds: float) -> dict[str, Any]:
        place, pay, first_try, attempts = Summary(), Summary(), [0], [0]
        order_ids: list[str] = []
        errors: list[str] = []
        deadline = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=len(shoppers))
        async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:

            async def call(
                summary: Summary, shopper: Shopper, name: str, variables: dict[str, Any]
            ) -> dict[str, Any]:
                started = time.perf_counter()
                response = await http.post(
                    self.settings.router_url,
                    json={"query": operation(name), "variables": variables},
                    headers={"Authorization": f"Bearer {shopper.token}"},
                )
                summary.add(1000 * (time.perf_counter() - started), None)
                if response.status_code != 200:
                    raise GraphQLError(f"HTTP {response.status_code}: {response.text[:200]}")
                body: dict[str, Any] = response.json()
                return body

            async def shop(shopper: Shopper, n: int) -> None:
                while time.monotonic() < deadline:
                    n += 1
                    try:
                        body = await call(place, shopper, "place_order", place_input(shopper, n, self.skus))
                        if body.get("errors") or _placed(body.get("data") or {}):
                            raise GraphQLError(f"placeOrder: {str(body)[:200]}")
                        order_id = body["data"]["placeOrder"]["id"]
                        order_ids.append(order_id)
                        variables = pay_input(order_id)  # one idempotency key for the retries
                        for attempt in range(MAX_PAY_ATTEMPTS):
                            attempts[0] += 1
                            body = await call(pay, shopper, "pay_order", variables)
                            codes = [e.get("extensions", {}) for e in body.get("errors") or []]
                            # Apollo Gateway's production profile redacts subgraph errors down to
                            # their code: retryable and retryAfterSeconds may not reach the client.
                            if codes and all(c.get("code") == "SERVICE_UNAVAILABLE" for c in codes):
                                await asyncio.sleep(float(codes[0].get("retryAfterSeconds", 0.5)))
                                continue
                            if body.get("errors") or _paid(body.get("data") or {}):
                                raise GraphQLError(f"payOrder: {str(body)[:200]}")
                            first_try[0] += attempt == 0
                            break
                        else:
                            raise GraphQLError(
                                f"order {order_id} unknown to payments after {MAX_PAY_ATTEMPTS} tries"
                            )
                    except (GraphQLError, httpx.HTTPError) as error:
                        errors.append(str(error)[:300])

            started = time.monotonic()
            await asyncio.gather(*(shop(s, 10_000_000 + 1000 * s.index) for s in shoppers))
            elapsed = time.monotonic() - started
        orders = len(order_ids)
        return {
            "shoppers": len(shoppers),
            "seconds": round(elapsed, 1),
            "orders": orders,
            "ordersPerSecond": round(orders / elapsed, 2),
            "payAttempts": attempts[0],
            "firstTrySuccessPercent": round(100 * first_try[0] / max(orders, 1), 2),
            "errors": len(errors),
            "errorSamples": errors[:5],
            "placeOrder": place.record(elapsed),
            "payOrder": pay.record(elapsed),
            "orderIds": order_ids,
        }

    def wait_until_known(self, order_ids: Sequence[str], timeout: float = 60.0) -> None:
        """Until payments' projection of every order exists (read-only, by `_id`)."""
        client: MongoClient[dict[str, Any]] = MongoClient(self.settings.mongodb_uri)
        deadline, waiting = time.monotonic() + timeout, list(order_ids)
        with client:
            while waiting and time.monotonic() < deadline:
                waiting = [
                    i
                    for i in waiting
                    if client["payments"]["orders"].find_one({"_id": i}, {"_id": 1}) is None
                ]
                time.sleep(0.5 if waiting else 0)
        if waiting:
            raise RuntimeError(f"{len(waiting)} orders still unknown to payments after {timeout:g} s")

    def placed_to_known_lag(self, order_ids: Sequence[str], since_ms: int) -> dict[str, Any]:
        """From the order written (its createdAt, carried as order.placed's placedAt) to payments'
        projection of it written (its createdAt): both read, read-only, from payments' projection.

        Split at the event's arrival on the orders stream (the millisecond time of its entry id,
        Redis' clock, the same machine's): placed -> stream is orders' insert and its relay,
        stream -> known is payments' consumer and its write.
        """
        client: MongoClient[dict[str, Any]] = MongoClient(self.settings.mongodb_uri, tz_aware=True)
        published = self.published_at(set(order_ids), since_ms)
        lags: list[float] = []
        to_stream: list[float] = []
        from_stream: list[float] = []
        missing = 0
        with client:
            projections = client["payments"]["orders"]
            for order_id in order_ids:
                found = projections.find_one({"_id": order_id}, {"placedAt": 1, "createdAt": 1})
                if found is None:
                    missing += 1
                    continue
                placed_ms = 1000 * found["placedAt"].timestamp()
                known_ms = 1000 * found["createdAt"].timestamp()
                lags.append(known_ms - placed_ms)
                if order_id in published:
                    to_stream.append(published[order_id] - placed_ms)
                    from_stream.append(known_ms - published[order_id])
        return {
            "orders": len(lags),
            "missing": missing,
            **latency_summary(lags),
            "placedToStream": latency_summary(to_stream),
            "streamToKnown": latency_summary(from_stream),
        }

    def published_at(self, order_ids: set[str], since_ms: int) -> dict[str, int]:
        """When each order's `order.placed` was added to the orders stream (ms since the epoch)."""
        published: dict[str, int] = {}
        stream = stream_for("orders")
        with redis.Redis.from_url(self.settings.events_redis_url, decode_responses=True) as events:
            start = f"{since_ms}-0"
            while True:
                entries = events.xrange(stream, min=start, count=5000)
                for entry_id, fields in entries:
                    event = Event.from_json(fields[EVENT_FIELD])
                    if event.type == "order.placed" and event.data["orderId"] in order_ids:
                        published[event.data["orderId"]] = int(entry_id.split("-")[0])
                if len(entries) < 5000:
                    return published
                start = f"({entries[-1][0]}"


def latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(latencies, 0.5), 1),
        "p99": round(percentile(latencies, 0.99), 1),
        "max": round(max(latencies, default=0.0), 1),
    }
