"""The explorer's static files, served by the service itself: no CDN.

GraphiQL and React are installed by npm into this package's node_modules from
the committed package-lock.json (scripts/setup.sh, `make deps`, and each
service's Dockerfile); the shopkit wheel carries the files listed here
(`artifacts` in libs/shopkit/pyproject.toml), so a service image contains what
it serves.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Route

PACKAGE_DIR = Path(__file__).parent
ASSETS_PATH = "/explorer/assets"


@dataclass(frozen=True)
class Asset:
    path: Path  # relative to this package
    media_type: str


ASSETS: Mapping[str, Asset] = {
    "react.production.min.js": Asset(
        Path("node_modules/react/umd/react.production.min.js"), "text/javascript"
    ),
    "react-dom.production.min.js": Asset(
        Path("node_modules/react-dom/umd/react-dom.production.min.js"), "text/javascript"
    ),
    "graphiql.min.js": Asset(Path("node_modules/graphiql/graphiql.min.js"), "text/javascript"),
    "graphiql.min.css": Asset(Path("node_modules/graphiql/graphiql.min.css"), "text/css"),
    "explorer.js": Asset(Path("explorer.js"), "text/javascript"),
}


class ExplorerAssetsMissing(RuntimeError):
    """The npm-installed files are not there: the explorer would never load."""


def asset_url(name: str) -> str:
    if name not in ASSETS:
        raise KeyError(f"no explorer asset named {name!r}")
    return f"{ASSETS_PATH}/{name}"


def check_assets_installed() -> None:
    missing = [str(asset.path) for asset in ASSETS.values() if not (PACKAGE_DIR / asset.path).is_file()]
    if missing:
        raise ExplorerAssetsMissing(
            f"the explorer's files are missing from {PACKAGE_DIR}: {', '.join(missing)}. "
            "Run `make deps` (npm ci in libs/shopkit/src/shopkit/explorer)."
        )


async def serve_asset(request: Request) -> FileResponse:
    asset = ASSETS.get(request.path_params["name"])
    if asset is None:
        raise HTTPException(status_code=404)
    # FileResponse sends an ETag and Last-Modified, so browsers revalidate cheaply.
    return FileResponse(
        PACKAGE_DIR / asset.path, media_type=asset.media_type, headers={"cache-control": "no-cache"}
    )


def asset_routes() -> list[Route]:
    """Fails at once, when the app is built, if an asset is missing."""
    check_assets_installed()
    return [Route(ASSETS_PATH + "/{name}", serve_asset, methods=["GET", "HEAD"])]
