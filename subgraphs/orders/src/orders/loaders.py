"""Per-request DataLoaders: every load in one tick becomes one batched store call."""

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from orders.store import OrderRecord, OrderStore
from shopkit.pagination import Cursor


@dataclass(frozen=True)
class OrdersPageKey:
    customer_id: str
    first: int
    after: Cursor | None


@dataclass(frozen=True)
class OrdersPage:
    orders: list[OrderRecord]
    has_next_page: bool


@dataclass(frozen=True)
class Loaders:
    orders: DataLoader[str, OrderRecord | None]
    customer_orders: DataLoader[OrdersPageKey, OrdersPage]


def create_loaders(store: OrderStore) -> Loaders:
    async def load_orders(order_ids: list[str]) -> list[OrderRecord | None]:
        found = await store.orders_by_id(order_ids)
        return [found.get(order_id) for order_id in order_ids]

    async def load_customer_orders(keys: list[OrdersPageKey]) -> list[OrdersPage]:
        """Pages grouped by (first, after): one store call per group, whatever its customers."""
        customers_by_page: dict[tuple[int, Cursor | None], list[str]] = defaultdict(list)
        for key in keys:
            customers_by_page[(key.first, key.after)].append(key.customer_id)
        # One more order than asked tells whether another page follows.
        loaded = await asyncio.gather(
            *(
                store.customer_order_pages(customer_ids, first + 1, after)
                for (first, after), customer_ids in customers_by_page.items()
            )
        )
        pages = {
            OrdersPageKey(customer_id, first, after): OrdersPage(
                orders=found[:first], has_next_page=len(found) > first
            )
            for (first, after), pages_by_customer in zip(customers_by_page, loaded, strict=True)
            for customer_id, found in pages_by_customer.items()
        }
        return [pages[key] for key in keys]

    return Loaders(
        orders=DataLoader(load_fn=load_orders),
        customer_orders=DataLoader(load_fn=load_customer_orders),
    )
