"""Per-request DataLoaders: every batch of keys is one store query."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from payments.store import OrderProjection, OrderRef, PaymentRecord, PaymentStore
from shopkit.pagination import Cursor


@dataclass(frozen=True)
class PageKey:
    """One payer's page request: `limit` payments after `after`, newest first."""

    payer_id: str
    limit: int
    after: Cursor | None


@dataclass(frozen=True)
class Loaders:
    payment_by_id: DataLoader[str, PaymentRecord | None]
    payments_of_order: DataLoader[OrderRef, list[PaymentRecord]]
    order_by_id: DataLoader[str, OrderProjection | None]
    payment_page: DataLoader[PageKey, list[PaymentRecord]]


OrderFinder = Callable[[list[str]], Awaitable[dict[str, OrderProjection]]]


def create_loaders(store: PaymentStore, find_orders: OrderFinder) -> Loaders:
    """`find_orders` fetches order projections (waiting briefly for ones still in flight)."""

    async def payments_by_id(ids: list[str]) -> list[PaymentRecord | None]:
        found = await store.payments_by_ids(ids)
        return [found.get(payment_id) for payment_id in ids]

    async def payments_of_orders(orders: list[OrderRef]) -> list[list[PaymentRecord]]:
        found = await store.payments_of_orders(orders)
        return [found.get(order.order_id, []) for order in orders]

    async def orders_by_id(order_ids: list[str]) -> list[OrderProjection | None]:
        found = await find_orders(order_ids)
        return [found.get(order_id) for order_id in order_ids]

    async def payment_pages(keys: list[PageKey]) -> list[list[PaymentRecord]]:
        # Keys asking for the same page shape share one query.
        pages: dict[PageKey, list[PaymentRecord]] = {}
        shapes = {(key.limit, key.after) for key in keys}
        for limit, after in shapes:
            payer_ids = sorted({key.payer_id for key in keys if (key.limit, key.after) == (limit, after)})
            found = await store.payment_pages(payer_ids, limit, after)
            for payer_id, page in found.items():
                pages[PageKey(payer_id, limit, after)] = page
        return [pages[key] for key in keys]

    return Loaders(
        payment_by_id=DataLoader(load_fn=payments_by_id),
        payments_of_order=DataLoader(load_fn=payments_of_orders),
        order_by_id=DataLoader(load_fn=orders_by_id),
        payment_page=DataLoader(load_fn=payment_pages),
    )
