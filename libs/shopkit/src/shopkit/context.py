"""What every resolver can ask of a request: who is calling, and the trace it belongs to."""

from dataclasses import dataclass

from starlette.requests import Request

from shopkit import tracing
from shopkit.auth import Principal, TokenVerifier
from shopkit.errors import ShopError


@dataclass(frozen=True)
class RequestAuth:
    """The caller, resolved once per request.

    A bad token does not fail the whole request: it fails the first resolver
    that asks who is calling, so public fields (the catalog, tracking) still
    answer and the client sees exactly which field needed a valid token.
    """

    principal_or_none: Principal | None
    error: ShopError | None = None

    def principal(self) -> Principal | None:
        if self.error is not None:
            raise self.error
        return self.principal_or_none


async def authenticate(request: Request, verifier: TokenVerifier) -> RequestAuth:
    try:
        principal = await verifier.principal_from_header(request.headers.get("authorization"))
    except ShopError as error:
        return RequestAuth(principal_or_none=None, error=error)
    return RequestAuth(principal_or_none=principal)


def traceparent(request: Request) -> str | None:
    """The W3C trace context carried on into the request's events: the request's span when it is
    traced (shopkit.tracing), else the one the router propagated."""
    return tracing.traceparent_or(request.headers.get("traceparent"))
