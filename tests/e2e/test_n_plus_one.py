"""No N+1 through the router: `me { orders { payments delivery } }` costs the same
number of store commands for 5 orders as for 30.

Each service counts the commands it sends to its store in
`shopgraph_store_commands_total` on /metrics (Mongo commands for users, orders
and payments; Redis round trips for delivery, labelled by command). The test
reads the counters before and after one request and compares the deltas for
N=5 and N=30.

Services also talk to their stores in the background, which keeps out of the
comparison thus:
- delivery's outbox relay polls about once a second; its round trips are
  labelled `OUTBOX ...`, which the request path never uses, and are left out;
- the Mongo services' relays sweep every 30 s and may land in one window, so
  each measurement is repeated and the smallest delta kept (noise only adds).
With N+1 loading, some service's delta for N=30 would exceed its N=5 delta by
at least 25 (one command per extra order); the test allows a slack of 2 (a
cursor's follow-up command on a larger batch).
"""

import re
from collections.abc import Mapping

import httpx
import pytest

from e2e.shop import Account, Shop

MANY_ORDERS = 30
FEW = 5
REPEATS = 3
SLACK = 2
COUNTER = re.compile(r"^shopgraph_store_commands_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.MULTILINE)
COMMAND = re.compile(r'command="(?P<command>[^"]*)"')
# The label prefix of delivery's outbox relay (see the module's docstring).
BACKGROUND_PREFIX = "OUTBOX "


def store_commands(metrics_url: str) -> float:
    text = httpx.get(metrics_url, timeout=10.0).text
    total = 0.0
    for match in COUNTER.finditer(text):
        command = COMMAND.search(match["labels"])
        if command is None or not command["command"].startswith(BACKGROUND_PREFIX):
            total += float(match["value"])
    return total


def commands_per_service(metrics_urls: Mapping[str, str]) -> dict[str, float]:
    return {service: store_commands(url) for service, url in metrics_urls.items()}


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


def measure(shop: Shop, customer: Account, first: int, metrics_urls: Mapping[str, str]) -> dict[str, float]:
    """The store commands one MyOrders(first) request costs each service (least of REPEATS)."""
    least: dict[str, float] = {}
    for _ in range(REPEATS):
        before = commands_per_service(metrics_urls)
        data = shop.graph.run("MyOrders", {"first": first}, token=customer.token).ok()
        after = commands_per_service(metrics_urls)
        nodes = data["me"]["orders"]["nodes"]
        assert len(nodes) == first
        assert all(node["payments"] == [{"status": "CAPTURED"}] for node in nodes), nodes
        assert all(node["delivery"] == {"status": "SCHEDULED"} for node in nodes), nodes
        for service in metrics_urls:
            delta = after[service] - before[service]
            least[service] = min(least.get(service, delta), delta)
    return least


def test_store_commands_do_not_grow_with_the_number_of_orders(
    module_shop: Shop, customer_with_many_orders: Account, metrics_urls: Mapping[str, str]
) -> None:
    # Warm the router's query plan cache and each service's caches.
    module_shop.graph.run("MyOrders", {"first": MANY_ORDERS}, token=customer_with_many_orders.token).ok()

    few = measure(module_shop, customer_with_many_orders, FEW, metrics_urls)
    many = measure(module_shop, customer_with_many_orders, MANY_ORDERS, metrics_urls)

    # The counters are live: every service that resolves part of the query reads its store.
    for service in ("orders", "payments", "delivery"):
        assert few[service] >= 1, f"{service} reported no store commands: is its counter wired? {few}"
    for service in metrics_urls:
        assert many[service] <= few[service] + SLACK, (
            f"{service}: {many[service]:.0f} store commands for {MANY_ORDERS} orders vs "
            f"{few[service]:.0f} for {FEW} (N+1?) - all: few={few} many={many}"
        )
