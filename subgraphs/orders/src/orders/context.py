"""The per-request context every resolver receives."""

from dataclasses import dataclass

import strawberry

from orders.catalog import Catalog
from orders.loaders import Loaders
from orders.store import OrderStore
from shopkit.context import RequestAuth


@dataclass(frozen=True)
class Context:
    auth: RequestAuth
    catalog: Catalog
    loaders: Loaders
    store: OrderStore
    # W3C trace context of the request, carried into the events it causes.
    traceparent: str | None


Info = strawberry.Info[Context, None]
