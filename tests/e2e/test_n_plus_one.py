"""No N+1 through the router: `me { orders { payments delivery } }` costs the same
number of store-layer calls for 5 orders as for 30.

Each service counts on /metrics the calls into its store layer
(`shopgraph_store_calls_total`: a DataLoader batch is one call) and the commands
those send (`shopgraph_store_commands_total`: Mongo commands for users, orders
and payments; Redis round trips for delivery, labelled by command). The test
reads both before and after one request and compares the deltas for N=5 and
N=30:
- calls stay the same for every service;
- commands stay the same for delivery and on MongoDB (one `$in` per batch). On
  the embedded FerretDB a batch is one indexed lookup per key, so a service's
  commands may grow by at most one per extra order for each call it makes.

Services also talk to their stores in the background, which keeps out of the
comparison thus:
- delivery's outbox relay publishes what the event handlers wrote; its round
  trips are labelled `OUTBOX ...`, which the request path never uses, and are
  left out;
- the Mongo services' relays sweep every 30 s and may land in one window, so
  each measurement is repeated and the smallest delta kept (noise only adds).
With N+1 loading, some service's calls for N=30 would exceed its N=5 calls by
at least 25 (one per extra order); the test allows a slack of 2 (a cursor's
follow-up command on a larger batch).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import pytest

from e2e.shop import Account, Shop
from stack import Stack

MANY_ORDERS = 30
FEW = 5
REPEATS = 3
SLACK = 2
COMMANDS = re.compile(r"^shopgraph_store_commands_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.MULTILINE)
CALLS = re.compile(r"^shopgraph_store_calls_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.MULTILINE)
COMMAND = re.compile(r'command="(?P<command>[^"]*)"')
CALL = re.compile(r'call="(?P<call>[^"]*)"')
# The label prefix of delivery's outbox relay's commands and the names of its
# store calls (see the module's docstring).
BACKGROUND_PREFIX = "OUTBOX "
BACKGROUND_CALLS = ("DeliveryOutbox.read", "DeliveryOutbox.pending", "DeliveryOutbox.remove")
MONGO_SERVICES = ("users", "orders", "payments")


@dataclass(frozen=True)
class Work:
    calls: float
    commands: float


def store_work(metrics_url: str) -> Work:
    text = httpx.get(metrics_url, timeout=10.0).text
    commands = calls = 0.0
    for match in COMMANDS.finditer(text):
        command = COMMAND.search(match["labels"])
        if command is None or not command["command"].startswith(BACKGROUND_PREFIX):
            commands += float(match["value"])
    for match in CALLS.finditer(text):
        call = CALL.search(match["labels"])
        if call is None or call["call"] not in BACKGROUND_CALLS:
            calls += float(match["value"])
    return Work(calls=calls, commands=commands)


def work_per_service(metrics_urls: Mapping[str, str]) -> dict[str, Work]:
    return {service: store_work(url) for service, url in metrics_urls.items()}


@pytest.fixture(scope="module")
def customer_with_many_orders(module_shop: Shop) -> Account:
    """A customer with 30 paid orders, each with its payment and its delivery."""
    customer = module_shop.register("Frequent Buyer")
    order_ids = []
    for index in range(MANY_ORDERS):
        order = module_shop.place_order(customer, [{"sku": "PEN-GEL-12", "quantity": 1 + index % 3}])
        module_shop.pay_ok(customer, order["id"])
        order_ids.append(order["id"])
    for order_id in order_ids:
        module_shop.wait_for_delivery(customer.token, order_id)
    return customer


def measure(shop: Shop, customer: Account, first: int, metrics_urls: Mapping[str, str]) -> dict[str, Work]:
    """The store work one MyOrders(first) request costs each service (least of REPEATS)."""
    least: dict[str, Work] = {}
    for _ in range(REPEATS):
        before = work_per_service(metrics_urls)
        data = shop.graph.run("MyOrders", {"first": first}, token=customer.token).ok()
        after = work_per_service(metrics_urls)
        nodes = data["me"]["orders"]["nodes"]
        assert len(nodes) == first
        assert all(node["payments"] == [{"status": "CAPTURED"}] for node in nodes), nodes
        assert all(node["delivery"] == {"status": "SCHEDULED"} for node in nodes), nodes
        for service in metrics_urls:
            calls = after[service].calls - before[service].calls
            commands = after[service].commands - before[service].commands
            earlier = least.get(service, Work(calls, commands))
            least[service] = Work(min(earlier.calls, calls), min(earlier.commands, commands))
    return least


def test_store_work_does_not_grow_with_the_number_of_orders(
    module_shop: Shop,
    customer_with_many_orders: Account,
    metrics_urls: Mapping[str, str],
    stack_control: Stack,
) -> None:
    # Warm the router's query plan cache and each service's caches.
    module_shop.graph.run("MyOrders", {"first": MANY_ORDERS}, token=customer_with_many_orders.token).ok()

    few = measure(module_shop, customer_with_many_orders, FEW, metrics_urls)
    many = measure(module_shop, customer_with_many_orders, MANY_ORDERS, metrics_urls)

    # The counters are live: every service that resolves part of the query reads its store.
    for service in ("orders", "payments", "delivery"):
        assert few[service].calls >= 1, f"{service} reported no store calls: is its counter wired? {few}"
        assert few[service].commands >= 1, (
            f"{service} reported no store commands: is its counter wired? {few}"
        )
    on_ferretdb = stack_control.config.external_mongodb_uri is None
    for service in metrics_urls:
        assert many[service].calls <= few[service].calls + SLACK, (
            f"{service}: {many[service].calls:.0f} store calls for {MANY_ORDERS} orders vs "
            f"{few[service].calls:.0f} for {FEW} (N+1?) - all: few={few} many={many}"
        )
        per_key = on_ferretdb and service in MONGO_SERVICES
        allowed = few[service].commands + SLACK + (few[service].calls * (MANY_ORDERS - FEW) if per_key else 0)
        assert many[service].commands <= allowed, (
            f"{service}: {many[service].commands:.0f} store commands for {MANY_ORDERS} orders vs "
            f"{few[service].commands:.0f} for {FEW}, more than {allowed:.0f} - all: few={few} many={many}"
        )
