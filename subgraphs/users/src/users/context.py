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


@dataclass(frozen=True)
class Services:
    """What the app builds once at start and every request shares."""

    store: UserStore
    passwords: Passwords
    signer: TokenSigner
    verifier: TokenVerifier
    token_ttl: timedelta


@dataclass(frozen=True)
class Context:
    auth: RequestAuth
    loaders: Loaders
    store: UserStore
    passwords: Passwords
    signer: TokenSigner
    token_ttl: timedelta
    traceparent: str | None


async def build_context(request: Request, services: Services) -> Context:
    return Context(
        auth=await authenticate(request, services.verifier),
        loaders=create_loaders(services.store),
        store=services.store,
        passwords=services.passwords,
        signer=services.signer,
        token_ttl=services.token_ttl,
        traceparent=traceparent(request),
    )
