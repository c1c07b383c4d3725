"""The committed schema.graphql is what the code serves (the router composes from it)."""

from pathlib import Path

from strawberry.printer import print_schema

from delivery.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    exported = print_schema(schema)
    committed = SCHEMA_FILE.read_text()
    assert committed.strip() == exported.strip(), (
        "subgraphs/delivery/schema.graphql is stale: re-run `make export-schemas` "
        "(or `uv run strawberry export-schema delivery.schema:schema --output schema.graphql` "
        "in subgraphs/delivery) and commit it."
    )
