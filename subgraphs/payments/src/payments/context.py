"""The per-request context every resolver receives as `info.context`, and how it is built."""

from dataclasses import dataclass

import strawberry
from starlette.requests import Request

from payments.loaders import Loaders, create_loaders
from payments.rules import Payments
from payments.store import PaymentStore
from shopkit.auth import Principal, TokenVerifier
from shopkit.context import RequestAuth, authenticate, traceparent


@dataclass(frozen=True)
class Context:
    auth: RequestAuth
    loaders: Loaders
    payments: Payments
    traceparent: str | None

    def principal(self) -> Principal | None:
        return self.auth.principal()


Info = strawberry.Info[Context, None]


async def build_context(
    request: Request, verifier: TokenVerifier, store: PaymentStore, payments: Payments
) -> Context:
    return Context(
        auth=await authenticate(request, verifier),
        loaders=create_loaders(store, payments.wait_for_orders),
        payments=payments,
        traceparent=traceparent(request),
    )
