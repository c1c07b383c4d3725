"""The per-request context every resolver receives as `info.context`, and how it is built."""

from dataclasses import dataclass
from datetime import timedelta

import strawberry
from starlette.requests import Request

from shopkit.auth import TokenVerifier
from shopkit.context import RequestAuth, authenticate, traceparent
from shopkit.tokens import TokenSigner
from users.loaders import Loaders, create_loaders
from users.passwords import Passwords
from users.store import UserStore
from users.throttle import SignInThrottle


@dataclass(frozen=True)
class Services:
    """What the app builds once at start and every request shares."""

    store: UserStore
    passwords: Passwords
    throttle: SignInThrottle
    signer: TokenSigner
    verifier: TokenVerifier
    token_ttl: timedelta


@dataclass(frozen=True)
class Context:
    auth: RequestAuth
    loaders: Loaders
    store: UserStore
    passwords: Passwords
    throttle: SignInThrottle
    signer: TokenSigner
    token_ttl: timedelta
    traceparent: str | None
    # Who sent the request as far as this service can tell; see `client_address`.
    client_address: str | None


Info = strawberry.Info[Context, None]


async def build_context(request: Request, services: Services) -> Context:
    return Context(
        auth=await authenticate(request, services.verifier),
        loaders=create_loaders(services.store),
        store=services.store,
        passwords=services.passwords,
        throttle=services.throttle,
        signer=services.signer,
        token_ttl=services.token_ttl,
        traceparent=traceparent(request),
        client_address=client_address(request),
    )


def client_address(request: Request) -> str | None:
    """The client's address when the request names it; None when it does not.

    Behind the router the peer is the router, whose address every client
    shares: counting failures by it would let anyone lock everyone out. So an
    address is known only when the request carries `X-Forwarded-For` (set by a
    proxy in front of the router, which propagates it): uvicorn then puts its
    last untrusted entry in `request.client` for a peer in FORWARDED_ALLOW_IPS
    (default 127.0.0.1 and ::1). Without it, only the account's window counts.
    """
    if request.client is None or "x-forwarded-for" not in request.headers:
        return None
    return request.client.host
