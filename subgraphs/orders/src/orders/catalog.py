"""The product catalog as this process serves it: read once at start, then from memory.

The catalog is part of a release: `seed.seed_catalog` writes it at every start
and nothing else writes products. So a process reads it once, after seeding,
and answers every product lookup (order lines, `Product` entities, `products`,
placeOrder's prices) from memory instead of one store lookup per SKU per request.
A new catalog takes effect as the new release's processes start.
"""

from orders.store import OrderStore, ProductRecord


class Catalog:
    def __init__(self) -> None:
        self._listed: list[ProductRecord] = []
        self._by_sku: dict[str, ProductRecord] = {}

    async def load(self, store: OrderStore) -> None:
        self._listed = await store.all_products()
        self._by_sku = {product.sku: product for product in self._listed}

    def products(self) -> list[ProductRecord]:
        """Every product, by name."""
        return list(self._listed)

    def product(self, sku: str) -> ProductRecord | None:
        return self._by_sku.get(sku)

    def priced(self, skus: list[str]) -> dict[str, ProductRecord]:
        """The products of these SKUs that the catalog has, by SKU."""
        return {sku: self._by_sku[sku] for sku in skus if sku in self._by_sku}
