"""The ASGI app around a subgraph's schema: /graphql (GraphiQL on a browser's GET), health, metrics."""

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any

import strawberry
from opentelemetry.trace import Tracer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from shopkit.admission import Admission
from shopkit.errors import MaskInternalErrors
from shopkit.explorer import asset_routes, graphiql_page
from shopkit.health import LIVE_PATH, READY_PATH, ReadinessCheck, health_routes
from shopkit.metrics import metrics_endpoint
from shopkit.tracing import RequestSpans

ContextFactory = Callable[[Request], Awaitable[Any]]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class QueryLimits:
    """How large a query a subgraph accepts (GRAPHQL_MAX_DEPTH, _ALIASES, _TOKENS in its settings)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000


def schema_extensions(limits: QueryLimits) -> list[Callable[[], SchemaExtension]]:
    """Error masking, the query limits enforced in every subgraph (the free router
    cannot), and the parse and validation caches.

    Depth, aliases and tokens are capped so that one request cannot make a
    service do unbounded work.

    Factories, not instances: Strawberry builds each request's extensions from
    them, so concurrent requests never share an extension's execution context.
    The limits' validation rules are built once, so that the validation cache
    (keyed by the rules) hits across requests.
    """
    limit_rules = [
        *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
    ]
    return [
        MaskInternalErrors,
        partial(AddValidationRules, limit_rules),
        partial(MaxTokensLimiter, max_token_count=limits.max_tokens),
        partial(ParserCache, maxsize=256),
        partial(ValidationCache, maxsize=256),
    ]


GRAPHQL_PATH = "/graphql"
METRICS_PATH = "/metrics"


class SubgraphGraphQL(GraphQL[Any, None]):
    """Strawberry's ASGI handler with the service's own per-request context, admitting at most
    `admission.limit` requests at once (shopkit.admission).

    A browser's GET gets GraphiQL from this service's own files (shopkit.explorer),
    not Strawberry's page, which loads GraphiQL and React from a CDN.
    """

    def __init__(
        self, schema: strawberry.Schema, context_factory: ContextFactory, admission: Admission
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=False)
        self._context_factory = context_factory
        self._admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self._admission.admitted():
            await super().__call__(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        title = f"shopgraph subgraph at {request.url.netloc}"
        return HTMLResponse(graphiql_page(title=title, endpoint=GRAPHQL_PATH))

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Any:
        assert isinstance(request, Request), "subgraphs serve no websockets"
        return await self._context_factory(request)


def create_app(
    *,
    schema: strawberry.Schema,
    context_factory: ContextFactory,
    lifespan: Lifespan,
    readiness: dict[str, ReadinessCheck],
    concurrency: int,
    extra_routes: Sequence[BaseRoute] = (),
    tracer: Tracer | None = None,
) -> Starlette:
    """The service's app; with a `tracer`, every request but health checks and scrapes is a span.

    At most `concurrency` GraphQL requests are worked on at once (GRAPHQL_CONCURRENCY);
    health checks and scrapes never wait behind them.
    """
    graphql = SubgraphGraphQL(schema, context_factory, Admission(concurrency))
    routes: list[BaseRoute] = [
        Route(GRAPHQL_PATH, graphql, methods=["GET", "POST"]),
        *asset_routes(),
        *health_routes(readiness),
        Route(METRICS_PATH, metrics_endpoint),
        *extra_routes,
    ]
    untraced = (LIVE_PATH, READY_PATH, METRICS_PATH)
    middleware = [] if tracer is None else [Middleware(RequestSpans, tracer=tracer, untraced_paths=untraced)]
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
