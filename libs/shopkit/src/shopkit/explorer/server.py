"""The explorer of the composed graph: GraphiQL pointed at the router (development only).

The router's own Sandbox loads from Apollo's CDN, so it cannot work offline; this
small server sends the same GraphiQL page the subgraphs serve, with the router
as its endpoint. The browser calls the router directly, which the router's CORS
policy allows from any localhost origin (router/router.dev.yaml).
"""

from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from shopkit.explorer.assets import asset_routes
from shopkit.explorer.page import graphiql_page


class Settings(BaseSettings):
    """From GRAPH_URL, HOST, PORT and LOG_LEVEL, like a service's (shopkit.settings)."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    # The router as the browser reaches it.
    graph_url: str = "http://127.0.0.1:4000/"
    host: str = "127.0.0.1"
    port: int = 4080
    log_level: str = "INFO"


def create_app(settings: Settings) -> Starlette:
    page = graphiql_page(title="shopgraph: the composed graph", endpoint=settings.graph_url)

    async def explorer(_: Request) -> HTMLResponse:
        return HTMLResponse(page)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "live", "graph": settings.graph_url})

    return Starlette(routes=[Route("/", explorer), Route("/health", health), *asset_routes()])
