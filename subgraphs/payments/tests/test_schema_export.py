"""The committed schema.graphql must be what the code exports."""

from pathlib import Path

from strawberry.printer import print_schema

from payments.schema import schema

COMMITTED = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    exported = print_schema(schema)
    committed = COMMITTED.read_text().rstrip("\n")
    assert committed == exported.rstrip("\n"), (
        "subgraphs/payments/schema.graphql is stale: run `make export-schemas` "
        "(or `uv run strawberry export-schema payments.schema:schema --output schema.graphql` "
        "in subgraphs/payments) and commit the result."
    )
