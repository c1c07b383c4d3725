"""GraphiQL served from this repository's own npm install, for a subgraph or the composed graph.

Every subgraph answers a browser's GET /graphql with `graphiql_page` and serves
`asset_routes()` (shopkit.http); `python -m shopkit.explorer` serves the same
page for the composed graph, pointed at the router (shopkit.explorer.server).
"""

from shopkit.explorer.assets import ExplorerAssetsMissing, asset_routes, check_assets_installed
from shopkit.explorer.page import graphiql_page

__all__ = ["ExplorerAssetsMissing", "asset_routes", "check_assets_installed", "graphiql_page"]
