"""Schema: the SDL the implementation serves composes with the other three subgraphs' committed
SDLs into exactly the committed graph: the API schema clients see (router/api-schema.graphql)
and the supergraph the router plans with (router/supergraph.graphql), byte for byte."""

from __future__ import annotations

from contract.composition import Composed, diff
from contract.processes import REPO


def test_served_sdl_composes_into_the_committed_api_schema(composed: Composed) -> None:
    committed = (REPO / "router" / "api-schema.graphql").read_text()
    assert composed.api_schema == committed, diff(committed, composed.api_schema)


def test_served_sdl_composes_into_the_committed_supergraph(composed: Composed) -> None:
    # The same supergraph: the same fields owned by delivery, so the router plans the same fetches.
    committed = (REPO / "router" / "supergraph.graphql").read_text()
    assert composed.supergraph == committed, diff(committed, composed.supergraph)
