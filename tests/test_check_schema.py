"""`make check-schema` (scripts/check-schema.sh) catches each kind of schema drift.

It passes on the real repository. Each broken case runs on a temporary copy of
the repository with one file broken on purpose, and must fail with a message
that tells the user what to do. The real files are never modified.
"""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import REPO_ROOT

NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "var", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"
)


def check_schema(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts/check-schema.sh")],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository (own uv environments, the real router/node_modules)."""
    root = tmp_path_factory.mktemp("repo") / "shopgraph"
    shutil.copytree(REPO_ROOT, root, ignore=NOT_COPIED, symlinks=True)
    (root / "router/node_modules").symlink_to(REPO_ROOT / "router/node_modules")
    return root


@pytest.fixture
def broken(copy: Path) -> Iterator[Path]:
    """The copy; every file a test changes in it is restored afterwards."""
    originals = {path: path.read_bytes() for path in copy.rglob("*.graphql")}
    originals[copy / "supergraph.yaml"] = (copy / "supergraph.yaml").read_bytes()
    yield copy
    for path in copy.rglob("*.graphql"):
        if path not in originals:
            path.unlink()
    for path, content in originals.items():
        path.write_bytes(content)


def test_passes_on_the_repository() -> None:
    result = check_schema(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: schemas match the code" in result.stdout


def test_passes_on_an_untouched_copy(broken: Path) -> None:
    result = check_schema(broken)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_schema_file_that_no_longer_matches_its_code_fails(broken: Path) -> None:
    sdl = broken / "subgraphs/users/schema.graphql"
    sdl.write_text(sdl.read_text() + "\ntype Stale {\n  id: ID!\n}\n")

    result = check_schema(broken)

    assert result.returncode != 0
    assert "error: subgraphs/users/schema.graphql does not match the code of subgraphs/users" in result.stderr
    assert "-type Stale {" in result.stderr  # the diff is shown
    assert "run `make compose`" in result.stderr


def test_a_composition_error_fails(broken: Path) -> None:
    # A fifth subgraph that redefines Product.name with another type cannot compose.
    (broken / "conflict.graphql").write_text(
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.11", import: ["@key"])\n'
        'type Product @key(fields: "sku") {\n  sku: ID!\n  name: Int!\n}\n'
    )
    config = broken / "supergraph.yaml"
    config.write_text(
        config.read_text()
        + "  conflict:\n"
        + "    routing_url: http://127.0.0.1:4999/graphql\n"
        + "    schema:\n      file: ./conflict.graphql\n"
    )

    result = check_schema(broken)

    assert result.returncode != 0
    assert "error: composition failed" in result.stderr
    assert 'Type of field "Product.name" is incompatible across subgraphs' in result.stderr


def test_a_stale_supergraph_fails(broken: Path) -> None:
    supergraph = broken / "router/supergraph.graphql"
    supergraph.write_text(supergraph.read_text() + "# edited by hand\n")

    result = check_schema(broken)

    assert result.returncode != 0
    assert "error: router/supergraph.graphql is stale" in result.stderr
    assert "run `make compose` and commit it" in result.stderr


def test_an_unacknowledged_breaking_change_fails_until_it_is_accepted(broken: Path) -> None:
    # The baseline promises a field the composed API no longer has: clients using it would break.
    baseline = broken / "router/api-schema.graphql"
    promised = baseline.read_text().replace("type Query {", "type Query {\n  legacyCatalog: [String!]!", 1)
    baseline.write_text(promised)

    result = check_schema(broken)

    assert result.returncode != 0
    assert "FIELD_REMOVED: Query.legacyCatalog was removed." in result.stderr
    assert "run `make accept-schema-change`" in result.stderr

    # `make compose` refuses to record the break; `make accept-schema-change` acknowledges it.
    compose = ["node", str(broken / "router/compose.mjs")]
    refused = subprocess.run(compose, capture_output=True, text=True, check=False)
    assert refused.returncode != 0
    assert "legacyCatalog" in baseline.read_text()
    accepted = subprocess.run([*compose, "--accept-breaking"], capture_output=True, text=True, check=False)
    assert accepted.returncode == 0, accepted.stderr
    assert "legacyCatalog" not in baseline.read_text()
    assert check_schema(broken).returncode == 0
