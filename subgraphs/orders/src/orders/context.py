"""The per-request context every resolver receives as `info.context`, and how it is built."""

from dataclasses import dataclass

import strawberry
from starlette.requests import Request

from orders.catalog import Catalog
from orders.loaders import Loaders, create_loaders
from orders.store import OrderStore
from shopkit.auth import TokenVerifier
from shopkit.context import RequestAuth, authenticate, traceparent


@dataclass(frozen=True)
class Context:
    auth: RequestAuth
    catalog: Catalog
    loaders: Loaders
    store: OrderStore
    # W3C trace context of the request, carried into the events it causes.
    traceparent: str | None


Info = strawberry.Info[Context, None]


async def build_context(
    request: Request, verifier: TokenVerifier, catalog: Catalog, store: OrderStore
) -> Context:
    return Context(
        auth=await authenticate(request, verifier),
        catalog=catalog,
        loaders=create_loaders(store),
        store=store,
        traceparent=traceparent(request),
    )
