"""create_app(): the users subgraph as a Starlette app, with its lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shopkit import http, tracing
from shopkit.auth import TokenVerifier
from shopkit.mongo import MongoDB
from shopkit.tokens import TokenSigner
from users.config import SERVICE, Settings
from users.context import Context, Services, build_context
from users.passwords import Passwords
from users.schema import build_schema
from users.seed import seed
from users.store import UserStore
from users.throttle import SignInThrottle

JWKS_PATH = "/.well-known/jwks.json"


def own_key_verifier(signer: TokenSigner) -> TokenVerifier:
    """Verifies with the signer's own public keys, never fetching them over HTTP from ourselves."""
    verifier = TokenVerifier(jwks_url=JWKS_PATH)
    verifier.use_keys(signer.public_keys())
    return verifier


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    tracer = tracing.tracer_for(SERVICE, settings.tracing_endpoint)
    signer = TokenSigner.from_pem_file(settings.jwt_private_key_file, create=True)
    mongodb = MongoDB(
        settings.mongodb_uri,
        settings.mongodb_database,
        service=SERVICE,
        write_connections=settings.mongodb_write_connections,
        ferretdb_postgresql_url=settings.ferretdb_postgresql_url,
        tracer=tracer,
    )
    services = Services(
        store=UserStore(mongodb),
        passwords=Passwords.from_profile(
            settings.password_hash_profile, concurrency=settings.password_hash_concurrency
        ),
        throttle=SignInThrottle(
            redis_url=settings.login_redis_url,
            max_failures_per_account=settings.login_max_failures_per_account,
            max_failures_per_address=settings.login_max_failures_per_address,
            window_seconds=settings.login_failure_window_seconds,
            key_prefix=settings.login_limit_key_prefix,
        ),
        signer=signer,
        verifier=own_key_verifier(signer),
        token_ttl=settings.token_ttl,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            await services.store.open()
            await seed(services.store, services.passwords, settings)
            yield
        finally:
            await services.throttle.close()
            await services.store.close()

    async def context(request: Request) -> Context:
        return await build_context(request, services)

    async def jwks(_: Request) -> JSONResponse:
        # Verifiers cache the set and refetch on an unknown key id, so a short max-age suffices.
        return JSONResponse(signer.jwks(), headers={"Cache-Control": "public, max-age=300"})

    return http.create_app(
        schema=build_schema(settings.query_limits),
        concurrency=settings.graphql_concurrency,
        context_factory=context,
        lifespan=lifespan,
        # Not Redis: sign-in throttling counts in memory while Redis is down (users.throttle).
        readiness={"mongodb": mongodb.is_ready},
        extra_routes=[Route(JWKS_PATH, jwks, methods=["GET"])],
        tracer=tracer,
    )
