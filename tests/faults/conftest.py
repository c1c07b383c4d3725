"""Fixtures of the fault-isolation suite: see e2e/fixtures.py."""

from e2e.fixtures import (
    customer,
    delivery_store,
    events_redis,
    metrics_urls,
    module_shop,
    mongo_client,
    orders_db,
    payments_db,
    router_health_url,
    shop,
    subgraph_urls,
)

__all__ = [
    "customer",
    "delivery_store",
    "events_redis",
    "metrics_urls",
    "module_shop",
    "mongo_client",
    "orders_db",
    "payments_db",
    "router_health_url",
    "shop",
    "subgraph_urls",
]
