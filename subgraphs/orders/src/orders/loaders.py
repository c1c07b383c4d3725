"""Per-request DataLoaders: every load in one tick becomes one batched store call."""

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from orders.store import OrderStore
from shopkit.mongo import Document
from shopkit.pagination import Cursor


@dataclass(frozen=True)
class OrdersPageKey:
    customer_id: str
    first: int
    after: Cursor | None


@dataclass(frozen=True)
class OrdersPage:
    orders: list[Document]
    has_next_page: bool


@dataclass(frozen=True)
class Loaders:
    products: DataLoader[str, Document | None]
    orders: DataLoader[str, Document | None]
    customer_orders: DataLoader[OrdersPageKey, OrdersPage]


def create_loaders(store: OrderStore) -> Loaders:
    async def load_products(skus: list[str]) -> list[Document | None]:
        return _in_key_order(skus, await store.products_by_sku(skus))

    async def load_orders(order_ids: list[str]) -> list[Document | None]:
        return _in_key_order(order_ids, await store.orders_by_id(order_ids))

    orders: DataLoader[str, Document | None] = DataLoader(load_fn=load_orders)

    async def load_customer_orders(keys: list[OrdersPageKey]) -> list[OrdersPage]:
        """Pages grouped by (first, after): each group costs the same few store
        calls whether it holds one customer or a hundred (see `_load_pages`)."""
        customers_by_page: dict[tuple[int, Cursor | None], list[str]] = defaultdict(list)
        for key in keys:
            customers_by_page[(key.first, key.after)].append(key.customer_id)
        loaded = await asyncio.gather(
            *(
                _load_pages(store, orders, customer_ids, first, after)
                for (first, after), customer_ids in customers_by_page.items()
            )
        )
        pages = {
            OrdersPageKey(customer_id, first, after): page
            for (first, after), pages_by_customer in zip(customers_by_page, loaded, strict=True)
            for customer_id, page in pages_by_customer.items()
        }
        return [pages[key] for key in keys]

    return Loaders(
        products=DataLoader(load_fn=load_products),
        orders=orders,
        customer_orders=DataLoader(load_fn=load_customer_orders),
    )


async def _load_pages(
    store: OrderStore,
    orders: DataLoader[str, Document | None],
    customer_ids: list[str],
    first: int,
    after: Cursor | None,
) -> dict[str, OrdersPage]:
    # One query for a single customer; for several, one query for all their
    # order keys and one batched load of the orders kept. One more order than
    # asked tells whether another page follows.
    if len(customer_ids) == 1:
        found = await store.customer_orders(customer_ids[0], first + 1, after)
        return {customer_ids[0]: _page(found, first)}
    ids_by_customer: dict[str, list[str]] = {customer_id: [] for customer_id in customer_ids}
    for key in await store.customers_order_keys(customer_ids, after):
        ids = ids_by_customer[key["customerId"]]
        if len(ids) <= first:
            ids.append(key["_id"])
    documents = await orders.load_many([order_id for ids in ids_by_customer.values() for order_id in ids])
    by_id = {document["_id"]: document for document in documents if document is not None}
    return {
        customer_id: _page([by_id[order_id] for order_id in ids if order_id in by_id], first)
        for customer_id, ids in ids_by_customer.items()
    }


def _page(found: list[Document], first: int) -> OrdersPage:
    return OrdersPage(orders=found[:first], has_next_page=len(found) > first)


def _in_key_order(keys: list[str], documents: list[dict[str, Any]]) -> list[Document | None]:
    by_id = {document["_id"]: document for document in documents}
    return [by_id.get(key) for key in keys]
