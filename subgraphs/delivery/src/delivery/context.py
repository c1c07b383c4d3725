"""The per-request context every resolver receives as `info.context`, and how it is built."""

from dataclasses import dataclass

import strawberry
from starlette.requests import Request

from delivery.loaders import Loaders
from delivery.orders import OrdersClient
from delivery.store import DeliveryStore
from shopkit.auth import TokenVerifier
from shopkit.context import RequestAuth, authenticate, traceparent


@dataclass(frozen=True)
class Context:
    auth: RequestAuth
    loaders: Loaders
    store: DeliveryStore
    orders: OrdersClient
    # The request's Authorization header as sent: a carrier update hands it on to orders.
    authorization: str | None
    traceparent: str | None


Info = strawberry.Info[Context, None]


async def build_context(
    request: Request, verifier: TokenVerifier, store: DeliveryStore, orders: OrdersClient
) -> Context:
    return Context(
        auth=await authenticate(request, verifier),
        loaders=Loaders(store),
        store=store,
        orders=orders,
        authorization=request.headers.get("authorization"),
        traceparent=traceparent(request),
    )
