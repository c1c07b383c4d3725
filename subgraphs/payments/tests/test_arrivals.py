"""Waiting payOrder calls are woken by the projection of their order, and by no other."""

from payments.arrivals import OrderArrivals


async def test_a_waiter_is_woken_by_its_own_orders_only() -> None:
    arrivals = OrderArrivals()
    with arrivals.watching(["order-a", "order-b"]) as arrived, arrivals.watching(["order-c"]) as other:
        arrivals.recorded("order-x")
        assert not arrived.is_set()

        arrivals.recorded("order-b")

        assert arrived.is_set()
        assert not other.is_set()


async def test_a_waiter_that_left_is_forgotten() -> None:
    arrivals = OrderArrivals()
    with arrivals.watching(["order-a"]) as arrived:
        pass

    arrivals.recorded("order-a")

    assert not arrived.is_set()
    assert arrivals.waiting_for() == set()
