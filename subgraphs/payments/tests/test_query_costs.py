"""No N+1: resolving many entities costs a constant number of store calls, and the
commands those send are one per batch on MongoDB, one per key on FerretDB."""

from typing import Any

import pytest
from conftest import Shop
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
