import pytest

from bench.seed import GOOD_CARD, SeedOrder, SeedPlan, alias_errors, batched_mutation


@pytest.mark.parametrize("plan", [SeedPlan.full(), SeedPlan.quick()])
def test_plan_gives_every_customer_orders_and_the_heavy_ones_hundreds(plan: SeedPlan) -> None:
    counts = plan.orders_per_customer()
    assert len(counts) == plan.customers
    assert sum(counts) == plan.orders
    assert min(counts) >= 1
    assert counts[: plan.heavy_customers] == [plan.heavy_orders_each] * plan.heavy_customers
    assert plan.heavy_orders_each >= 100  # cost growth reads first: 100


def test_full_plan_meets_the_issue() -> None:
    plan = SeedPlan.full()
    assert plan.customers >= 1000
    assert plan.orders >= 10_000


def test_some_orders_are_declined_and_half_of_those_paid_again() -> None:
    plan = SeedPlan.full()
    orders = [SeedOrder(id=str(i), number=str(i), global_index=i) for i in range(1000)]
    declined = [o for o in orders if o.first_card(plan) != GOOD_CARD]
    assert len(declined) == 1000 // plan.decline_every
    assert sum(o.pays_again(plan) for o in declined) == len(declined) // 2
    assert not any(o.pays_again(plan) for o in orders if o.first_card(plan) == GOOD_CARD)


def test_batched_mutation_aliases_each_input() -> None:
    query, variables = batched_mutation("placeOrder", "PlaceOrderInput", "{ id }", [{"a": 1}, {"a": 2}])
    assert query == (
        "mutation Seed($i0: PlaceOrderInput!, $i1: PlaceOrderInput!) {\n"
        "  o0: placeOrder(input: $i0) { id }\n"
        "  o1: placeOrder(input: $i1) { id }\n}"
    )
    assert variables == {"i0": {"a": 1}, "i1": {"a": 2}}


def test_alias_errors_name_the_failed_aliases() -> None:
    body = {
        "data": {"o0": {"id": "x"}, "o1": None},
        "errors": [{"message": "not yet", "path": ["o1"], "extensions": {"code": "NOT_FOUND"}}],
    }
    assert alias_errors(body) == {"o1": "not yet (NOT_FOUND)"}
