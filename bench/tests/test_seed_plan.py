import pytest

from bench.config import Plan
from bench.seed import GOOD_CARD, first_card, order_owners, orders_per_customer, pays_again

FULL = Plan(customers=1000, orders=100_000, heavy_customers=5, small_orders=1000)
QUICK = Plan(customers=100, orders=500, heavy_customers=2, small_orders=100)


@pytest.mark.parametrize("plan", [FULL, QUICK])
def test_every_customer_has_orders_and_the_heavy_ones_many(plan: Plan) -> None:
    counts = orders_per_customer(plan)
    assert len(counts) == plan.customers
    assert sum(counts) == plan.orders
    assert min(counts) >= 1
    assert counts[: plan.heavy_customers] == [plan.heavy_orders_each] * plan.heavy_customers
    assert plan.heavy_orders_each >= 100  # cost growth reads first: 100


def test_the_full_plan_has_customers_with_thousands_of_orders() -> None:
    assert FULL.heavy_orders_each >= 2000


def test_owners_are_shuffled_but_always_the_same() -> None:
    owners = order_owners(QUICK)
    assert owners == order_owners(QUICK)
    assert sorted(owners) == sorted(c for c, n in enumerate(orders_per_customer(QUICK)) for _ in range(n))
    assert owners[:50] != sorted(owners[:50])


def test_some_orders_are_declined_and_half_of_those_paid_again() -> None:
    declined = [i for i in range(1000) if first_card(FULL, i) != GOOD_CARD]
    assert len(declined) == 1000 // FULL.decline_every
    assert sum(pays_again(FULL, i) for i in declined) == len(declined) // 2
    assert not any(pays_again(FULL, i) for i in range(1000) if first_card(FULL, i) == GOOD_CARD)
