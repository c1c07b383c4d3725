"""Switching delivery to its other implementation, live, on the same data (docs/polyglot.md).

The graph runs on the stack's delivery (DELIVERY_IMPL, Python by default); customers place and
pay orders, and some are paid just before the switch, their events still on their way. Every
delivery process is stopped, orders are paid meanwhile, and the other implementation (the
TypeScript one by default) is started on the same ports, the same Redis and the same consumer
group. Then: every paid order has exactly one delivery, in the store, on the stream and through
the graph, and each customer reads the same deliveries, to the byte, as before the switch.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from contract.processes import Process, spawn, wait_until_ready
from redis import Redis

from e2e.shop import Account, Shop
from faults.checks import Burst, assert_one_delivery_each, place_and_pay, wait_until_all_delivered
from stack import DELIVERY_IMPLEMENTATIONS, Stack

SETTLED, IN_FLIGHT, WHILE_DOWN, AFTER = 6, 4, 4, 4
MY_DELIVERIES = """
    { me { deliveries {
        id status carrier trackingNumber estimatedDelivery updatedAt
        order { id } recipient { id } address { line1 line2 city postalCode country }
        events { status at note }
    } } }
"""


def the_other(implementation: str) -> str:
    [other] = [name for name in DELIVERY_IMPLEMENTATIONS if name != implementation]
    return other


def deliveries_of(shop: Shop, customer: Account) -> list[dict[str, Any]]:
    deliveries: list[dict[str, Any]] = shop.graph.execute(MY_DELIVERIES, token=customer.token).ok()["me"][
        "deliveries"
    ]
    return deliveries


class OtherImplementation:
    """The other implementation of delivery, run in place of the stack's own processes."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self.name = the_other(stack.config.delivery_impl)
        self._processes: list[Process] = []

    def take_over(self) -> None:
        """Starts this implementation on the ports of the stack's (stopped) delivery processes."""
        config = self._stack.config
        programs = config.processes("delivery")
        environment = config.supervisord_env()
        for program in programs:
            process = spawn(
                f"{program}-{self.name}",
                DELIVERY_IMPLEMENTATIONS[self.name],
                log_dir=config.stack_dir / "logs",
                env={
                    "PORT": str(config.ports[program]),
                    "REDIS_URL": environment["DELIVERY_REDIS_URL"],
                    "EVENTS_REDIS_URL": environment["EVENTS_REDIS_URL"],
                    "JWKS_URL": environment["JWKS_URL"],
                    "ORDERS_URL": environment["ORDERS_URL"],
                },
            )
            self._processes.append(process)
            wait_until_ready(process, config.health_url(program))

    def hand_back(self) -> None:
        for process in self._processes:
            process.stop()
        self._processes.clear()
        self._stack.start(*self._stack.config.processes("delivery"))


@pytest.fixture
def other_implementation(stack_control: Stack) -> Iterator[OtherImplementation]:
    other = OtherImplementation(stack_control)
    try:
        yield other
    finally:
        other.hand_back()


def test_switching_implementation_live_loses_and_changes_nothing(
    shop: Shop,
    stack_control: Stack,
    other_implementation: OtherImplementation,
    delivery_store: Redis,
    events_redis: Redis,
) -> None:
    settled = place_and_pay(shop, SETTLED)
    wait_until_all_delivered(shop, settled)
    customers = list({customer.id: customer for customer, _ in settled.orders}.values())
    read_before = {customer.id: deliveries_of(shop, customer) for customer in customers}
    # Paid just before the switch: their payment.captured may still be on its way, or read and
    # not yet acknowledged by the process about to stop.
    in_flight = place_and_pay(shop, IN_FLIGHT)

    stack_control.stop(*stack_control.config.processes("delivery"))
    while_down = place_and_pay(shop, WHILE_DOWN)
    other_implementation.take_over()
    after = place_and_pay(shop, AFTER)

    everything = Burst(settled.orders + in_flight.orders + while_down.orders + after.orders)
    wait_until_all_delivered(shop, everything)
    assert_one_delivery_each(shop, everything, delivery_store, events_redis)
    for customer in customers:
        assert deliveries_of(shop, customer) == read_before[customer.id], f"{customer.id} reads otherwise"
