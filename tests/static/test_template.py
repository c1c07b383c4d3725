"""The four Python services follow one template (docs/architecture.md, "Layout"): a reader
who knows one knows all four. Read from the source, without importing any service:

- every service has the template's files, with the same names for the same roles;
- only `config.py` reads the environment, through one `Settings` on shopkit's bases;
- only `store.py` imports a database driver (`pymongo`, `redis`, `asyncpg`), except
  where a row of DRIVER_ELSEWHERE says why;
- a service's modules import one another without a cycle (TYPE_CHECKING imports too);
- every README has the same shape, and documents every variable its `Settings` adds
  to shopkit's bases.
"""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from static.static_support import REPO, own_settings_variables

SERVICES = ("users", "orders", "payments", "delivery")
MONGO_SERVICES = ("users", "orders", "payments")
TEMPLATE_MODULES = (
    "__init__.py",
    "__main__.py",
    "config.py",
    "store.py",
    "rules.py",
    "loaders.py",
    "context.py",
    "schema.py",
    "events.py",
    "app.py",
)
TEMPLATE_FILES = ("README.md", "Dockerfile", "pyproject.toml", "uv.lock", "schema.graphql", "tests")
# users produces and consumes no events, so it has no events.py.
WITHOUT_EVENTS = {"users"}
DRIVERS = ("pymongo", "redis", "asyncpg", "motor")
DRIVER_ELSEWHERE = {
    # Sign-in failures are counted in Redis by the `limits` package, which takes a
    # redis-py connection pool: the throttle is users' second store.
    ("users", "throttle.py"),
}


def modules(service: str) -> Iterator[Path]:
    yield from sorted((REPO / "subgraphs" / service / "src" / service).glob("*.py"))


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imported_modules(module: ast.Module) -> Iterator[str]:
    """Every module an import statement names, at any depth (TYPE_CHECKING blocks too)."""
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def reads_environment(module: ast.Module) -> bool:
    for node in ast.walk(module):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ("environ", "getenv", "environb") for alias in node.names)
        ):
            return True
    return False


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_template_files(service: str) -> None:
    root = REPO / "subgraphs" / service
    expected = [m for m in TEMPLATE_MODULES if not (m == "events.py" and service in WITHOUT_EVENTS)]
    present = {path.name for path in modules(service)}
    assert [m for m in expected if m not in present] == []
    assert [f for f in TEMPLATE_FILES if not (root / f).exists()] == []


@pytest.mark.parametrize("service", SERVICES)
def test_only_config_reads_the_environment(service: str) -> None:
    """config.py declares one Settings on a shopkit base, which reads the variables; nothing else does."""
    readers = [path.name for path in modules(service) if reads_environment(tree(path))]
    assert set(readers) <= {"config.py"}
    config = tree(REPO / "subgraphs" / service / "src" / service / "config.py")
    classes = {node.name: node for node in config.body if isinstance(node, ast.ClassDef)}
    assert list(classes) == ["Settings"]
    bases = [base.id for base in classes["Settings"].bases if isinstance(base, ast.Name)]
    assert bases in (["ServiceSettings"], ["MongoServiceSettings"])


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_store_imports_a_database_driver(service: str) -> None:
    importers = {
        path.name
        for path in modules(service)
        if any(name.split(".")[0] in DRIVERS for name in imported_modules(tree(path)))
    }
    allowed = {"store.py"} | {module for owner, module in DRIVER_ELSEWHERE if owner == service}
    assert importers - allowed == set()
    assert "store.py" in importers


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_has_no_import_cycle(service: str) -> None:
    names = {path.stem for path in modules(service)}
    graph = {
        path.stem: {
            name.removeprefix(f"{service}.").split(".")[0]
            for name in imported_modules(tree(path))
            if name.startswith(f"{service}.")
        }
        & names
        for path in modules(service)
    }

    def cycle_from(start: str, path: list[str]) -> list[str] | None:
        for successor in sorted(graph[path[-1]]):
            if successor == start:
                return [*path, start]
            if successor not in path:
                found = cycle_from(start, [*path, successor])
                if found:
                    return found
        return None

    cycles = [cycle for module in sorted(graph) if (cycle := cycle_from(module, [module]))]
    assert cycles == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_readme_has_the_same_shape_and_documents_the_service_settings(service: str) -> None:
    readme = (REPO / "subgraphs" / service / "README.md").read_text()
    headings = re.findall(r"^(#{1,2} .+)$", readme, re.MULTILINE)
    expected = [f"# {service} subgraph", "## Rules"]
    if service in MONGO_SERVICES:
        expected.append("## The embedded store")
    assert headings[: len(expected)] == expected
    assert f"uv run python -m {service}" in readme
    assert "uv run pytest" in readme
    assert "| variable | default |" in readme

    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    assert sorted(own_settings_variables(service) - documented) == []
