"""The GraphiQL page: markup only; explorer.js mounts GraphiQL on it."""

from html import escape

from shopkit.explorer.assets import asset_url


def graphiql_page(*, title: str, endpoint: str) -> str:
    """A page that runs GraphiQL against `endpoint` (an absolute URL, or a path on this origin)."""
    scripts = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "explorer.js")
    script_tags = "\n".join(f'    <script src="{asset_url(name)}" defer></script>' for name in scripts)
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{escape(title)}</title>
    <link rel="stylesheet" href="{asset_url("graphiql.min.css")}">
    <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
{script_tags}
  </head>
  <body>
    <div id="graphiql" data-endpoint="{escape(endpoint)}">Loading the explorer...</div>
  </body>
</html>
"""
