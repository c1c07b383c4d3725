"""The explorer's page and files, as a subgraph and the composed-graph explorer serve them.

The browser test (tests/e2e/test_explorer.py) runs them in Chromium; these check
what can be checked without one: the page loads nothing from another origin, every
file it names is served, and the shopkit wheel carries those files.
"""

import re
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request

from shopkit.explorer.assets import ASSETS, PACKAGE_DIR, ExplorerAssetsMissing
from shopkit.explorer.server import Settings
from shopkit.explorer.server import create_app as create_explorer_app
from shopkit.http import create_app as create_subgraph_app

SHOPKIT_ROOT = Path(__file__).resolve().parents[1]
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


@asynccontextmanager
async def no_lifespan(_: Starlette) -> AsyncIterator[None]:
    yield


async def empty_context(_: Request) -> dict[str, str]:
    return {}


def subgraph_app() -> Starlette:
    return create_subgraph_app(
        schema=strawberry.Schema(Query),
        context_factory=empty_context,
        lifespan=no_lifespan,
        readiness={},
        concurrency=4,
    )


def client_of(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:4002")


def referenced_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


async def assert_every_referenced_file_is_served(client: httpx.AsyncClient, page: str) -> None:
    urls = referenced_urls(page)
    assert len(urls) == len(ASSETS)
    for url in urls:
        assert url.startswith("/explorer/assets/"), f"the page loads {url} from elsewhere"
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(("text/javascript", "text/css")), url
        assert len(response.content) > 500, url


async def test_a_subgraph_answers_a_browser_with_the_local_graphiql() -> None:
    async with client_of(subgraph_app()) as client:
        response = await client.get("/graphql", headers={"accept": BROWSER_ACCEPT})
        assert response.status_code == 200
        assert 'data-endpoint="/graphql"' in response.text
        await assert_every_referenced_file_is_served(client, response.text)
        # Operations are still answered on POST.
        answer = await client.post("/graphql", json={"query": "{ hello }"})
        assert answer.json() == {"data": {"hello": "world"}}


async def test_the_graph_explorer_points_graphiql_at_the_router() -> None:
    app = create_explorer_app(Settings(graph_url="http://127.0.0.1:14000/"))
    async with client_of(app) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert 'data-endpoint="http://127.0.0.1:14000/"' in page.text
        await assert_every_referenced_file_is_served(client, page.text)
        assert (await client.get("/health")).status_code == 200


async def test_an_unknown_asset_is_not_found() -> None:
    async with client_of(subgraph_app()) as client:
        assert (await client.get("/explorer/assets/package.json")).status_code == 404


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_URL", "http://localhost:4000/")
    monkeypatch.setenv("PORT", "4999")
    settings = Settings()
    assert settings == Settings(graph_url="http://localhost:4000/", host="127.0.0.1", port=4999)


def test_the_wheel_carries_exactly_the_files_the_explorer_serves() -> None:
    """node_modules is git-ignored, so the wheel takes these files only as hatch artifacts."""
    project = tomllib.loads((SHOPKIT_ROOT / "pyproject.toml").read_text())
    artifacts = set(project["tool"]["hatch"]["build"]["targets"]["wheel"]["artifacts"])
    package = PACKAGE_DIR.relative_to(SHOPKIT_ROOT)
    npm_files = {str(package / asset.path) for asset in ASSETS.values() if "node_modules" in asset.path.parts}
    assert artifacts == npm_files


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_every_asset_is_installed(name: str) -> None:
    assert (PACKAGE_DIR / ASSETS[name].path).is_file(), "run `make deps`"


def test_a_service_without_the_files_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shopkit.explorer.assets.PACKAGE_DIR", tmp_path)
    with pytest.raises(ExplorerAssetsMissing, match="make deps"):
        subgraph_app()
