"""The committed schema.graphql is what the code serves (composition reads the file)."""

from pathlib import Path

from strawberry.printer import print_schema

from users.schema import schema

SCHEMA_FILE = Path(__file__).parents[1] / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    # `strawberry export-schema` writes print_schema's output plus a final newline.
    assert SCHEMA_FILE.read_text() == print_schema(schema) + "\n", (
        f"{SCHEMA_FILE} no longer matches the code: run `make export-schemas` and commit the result."
    )
