"""No N+1: resolving many entities costs a constant number of store calls, and the
commands those send are one per batch on MongoDB, one per key on FerretDB."""

from typing import Any

import pytest
from conftest import DECLINED_CARD, Shop
from test_entities import ORDER_FIELDS, USER_PAYMENTS, order_rep

from payments.config import Settings
from shopkit.auth import Role
from shopkit.mongo import Server
from shopkit.testing import StoreWork, batch_commands


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The relay then runs only when woken by a write: no polling during the counts.
    return settings.model_copy(update={"outbox_sweep_seconds": 3600})


async def work_for(shop: Shop, query: str, variables: dict[str, Any], **who: Any) -> StoreWork:
    before = StoreWork.now()
    body = await shop.gql(query, variables, **who)
    assert "errors" not in body, body["errors"][:1]
    return StoreWork.now() - before


async def test_order_entities_cost_a_constant_number_of_queries(shop: Shop, mongodb_server: Server) -> None:
    orders = await shop.place_orders("alice", 100, amount=100)
    for order_id in orders[::2]:
        await shop.pay(order_id, as_user="alice")
    await shop.eventually(shop.outbox_drained)

    one = await work_for(shop, ORDER_FIELDS, {"reps": [order_rep(orders[0], 100)]}, as_user="alice")
    ten = await work_for(
        shop, ORDER_FIELDS, {"reps": [order_rep(o, 100) for o in orders[:10]]}, as_user="alice"
    )
    hundred = await work_for(
        shop, ORDER_FIELDS, {"reps": [order_rep(o, 100) for o in orders]}, as_user="root", role=Role.ADMIN
    )

    # One call for all their payments: the total comes with the representations,
    # and the payments say whose each order is, so no projection is read.
    assert one.calls == ten.calls == hundred.calls == 1
    assert one.commands == batch_commands(mongodb_server, 1)
    assert ten.commands == batch_commands(mongodb_server, 10)
    assert hundred.commands == batch_commands(mongodb_server, 100)


async def test_user_entities_cost_a_constant_number_of_queries(shop: Shop, mongodb_server: Server) -> None:
    for customer in ("alice", "bob", "carol"):
        for order_id in await shop.place_orders(customer, 3):
            await shop.pay(order_id, as_user=customer)
    await shop.eventually(shop.outbox_drained)
    users = [{"__typename": "User", "id": f"user-{n}"} for n in range(97)]
    users += [{"__typename": "User", "id": name} for name in ("alice", "bob", "carol")]

    hundred = await work_for(
        shop, USER_PAYMENTS, {"reps": users, "first": 2}, as_user="root", role=Role.ADMIN
    )
    one = await work_for(shop, USER_PAYMENTS, {"reps": users[-1:], "first": 2}, as_user="carol")

    # One store call; its commands: the payers' history counters, then the buckets their
    # pages span (alice, bob and carol have payments, each page within one bucket).
    assert one.calls == hundred.calls == 1
    assert one.commands == batch_commands(mongodb_server, 1, 1)
    assert hundred.commands == batch_commands(mongodb_server, 100, 3)


def placed_rep(order_id: str, customer_id: str, sequence: int | None) -> dict[str, Any]:
    """The representation the router sends for payments: with the order's place in its
    customer's history (what orders passes for @requires)."""
    rep = {**order_rep(order_id, 100), "customer": {"id": customer_id}}
    return rep if sequence is None else {**rep, "customerSequence": sequence}


async def test_a_page_of_orders_costs_lookups_per_bucket_not_per_order(
    shop: Shop, mongodb_server: Server
) -> None:
    # Positions 1..25: buckets of ten (shopkit.history) hold 9, 10 and 6 of them.
    orders = await shop.place_orders("alice", 25, amount=100, sequenced=True)
    await shop.pay(orders[0], as_user="alice", card=DECLINED_CARD)  # the first of its two payments
    for order_id in orders[::2]:
        await shop.pay(order_id, as_user="alice")
    await shop.eventually(shop.outbox_drained)
    by_bucket = [placed_rep(order_id, "alice", seq) for seq, order_id in enumerate(orders, start=1)]
    by_id = [order_rep(order_id, 100) for order_id in orders]

    bucketed = await work_for(shop, ORDER_FIELDS, {"reps": by_bucket}, as_user="alice")
    answer = await shop.gql(ORDER_FIELDS, {"reps": by_bucket}, as_user="alice")

    assert answer == await shop.gql(ORDER_FIELDS, {"reps": by_id}, as_user="alice")
    paid = answer["data"]["_entities"]
    assert [len(order["payments"]) for order in paid[:4]] == [2, 0, 1, 0]
    assert bucketed.calls == 1
    # FerretDB: each of the three buckets is its projections and its payments; MongoDB: one $in.
    assert bucketed.commands == (6 if mongodb_server is Server.FERRETDB else 1)


async def test_orders_projected_without_their_place_are_still_found_by_id(
    shop: Shop, mongodb_server: Server
) -> None:
    # Placed before order.placed carried customerSequence: payments knows no bucket for them.
    older = await shop.place_orders("alice", 5, amount=100)
    for order_id in older:
        await shop.pay(order_id, as_user="alice")
    newer = await shop.place_orders("bob", 5, amount=100, sequenced=True)
    await shop.pay(newer[0], as_user="bob")
    await shop.eventually(shop.outbox_drained)
    # orders has since given every order its place, so the representations all carry one;
    # one of bob's orders is passed as alice's (the bucket it names does not hold it).
    reps = [placed_rep(order_id, "alice", seq) for seq, order_id in enumerate(older, start=1)]
    reps += [placed_rep(newer[0], "alice", 1), placed_rep(newer[1], "bob", 2)]

    work = await work_for(shop, ORDER_FIELDS, {"reps": reps}, as_user="root", role=Role.ADMIN)
    body = await shop.gql(ORDER_FIELDS, {"reps": reps}, as_user="root", role=Role.ADMIN)

    assert [len(order["payments"]) for order in body["data"]["_entities"]] == [1, 1, 1, 1, 1, 1, 0]
    # Alice's bucket is read (it has 5 asked-for orders) and holds none of them; then all 7 by id.
    assert work.commands == (2 + 7 if mongodb_server is Server.FERRETDB else 1)
