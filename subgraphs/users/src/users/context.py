"""The per-request Context every resolver receives as `info.context`."""

from dataclasses import dataclass
from datetime import timedelta

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
    """The address of the peer that sent the request.

    That is the previous hop, not necessarily the client: behind the router it
    is the router's address, since the router (router/router.yaml `headers:`)
    forwards no header naming the client. uvicorn replaces it with the last
    untrusted entry of `X-Forwarded-For` when the peer is in
    FORWARDED_ALLOW_IPS (default 127.0.0.1 and ::1), so a proxy there that sets
    that header itself names the client here.
    """
    return request.client.host if request.client is not None else None
