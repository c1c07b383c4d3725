"""Paths, data types and helpers shared by the static checks (fixtures live in conftest.py).

Nothing here needs a Docker engine: the compose file is loaded by compose-go
(the library the docker compose CLI is built on) and the build context is
computed with moby/patternmatcher (docker's .dockerignore matcher), both built
from tests/static/gocheck.
"""

import ast
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[2]
GOCHECK = Path(__file__).resolve().parent / "gocheck"
COMPOSE_FILE = REPO / "docker-compose.yml"
PRODUCTION_OVERRIDE = REPO / "docker" / "compose.production.yml"
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


@dataclass(frozen=True)
class Subgraph:
    name: str
    port: int
    routing_url: str

    @property
    def graphql_path(self) -> str:
        return urlsplit(self.routing_url).path


def find_go() -> str | None:
    fallback = Path("/usr/local/go/bin/go")
    return shutil.which("go") or (str(fallback) if fallback.exists() else None)


def run_composecheck(
    gocheck_bin: Path, files: list[Path], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Loads compose files like `docker compose config`, with only `env` as variables."""
    flags = [f"-env={key}={value}" for key, value in (env or {}).items()]
    return subprocess.run(
        [str(gocheck_bin / "composecheck"), *flags, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def load_project(
    gocheck_bin: Path, files: list[Path], env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The resolved compose project (interpolated, normalized, paths absolute) as JSON data."""
    result = run_composecheck(gocheck_bin, files, env)
    assert result.returncode == 0, result.stderr
    project: dict[str, Any] = json.loads(result.stdout)
    return project


def read_subgraphs() -> list[Subgraph]:
    """The subgraphs of supergraph.yaml (rover's format), with the local port of each."""
    config = yaml.safe_load((REPO / "supergraph.yaml").read_text())
    found = []
    for name, entry in config["subgraphs"].items():
        url = entry["routing_url"]
        port = urlsplit(url).port
        assert port is not None, f"supergraph.yaml: {name} routing_url {url} has no port"
        found.append(Subgraph(name=name, port=port, routing_url=url))
    assert found, "supergraph.yaml lists no subgraphs"
    return found


def read_versions() -> dict[str, str]:
    """The pinned tool versions from scripts/versions.sh (plain NAME=value lines)."""
    text = (REPO / "scripts" / "versions.sh").read_text()
    return dict(re.findall(r"^([A-Z_]+)=([^\s\"$]+)$", text, flags=re.MULTILINE))


SETTINGS_BASES = REPO / "libs" / "shopkit" / "src" / "shopkit" / "settings.py"


def _class_fields(path: Path, class_name: str) -> tuple[list[str], dict[str, list[str]]]:
    """A settings class's own fields, and the variables of those read under other names
    (`Field(validation_alias=AliasChoices(...))`), from its source."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            fields, aliases = [], {}
            for statement in node.body:
                if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
                    continue
                fields.append(statement.target.id)
                if isinstance(statement.value, ast.Call):
                    for keyword in statement.value.keywords:
                        if keyword.arg == "validation_alias" and isinstance(keyword.value, ast.Call):
                            aliases[statement.target.id] = [
                                str(arg.value) for arg in keyword.value.args if isinstance(arg, ast.Constant)
                            ]
            return fields, aliases
    raise AssertionError(f"{path} defines no class {class_name}")


def settings_base(service: str) -> str:
    """The shopkit base the service's Settings is declared on."""
    config = REPO / "subgraphs" / service / "src" / service / "config.py"
    for node in ast.parse(config.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            return next(base.id for base in node.bases if isinstance(base, ast.Name))
    raise AssertionError(f"{config} defines no Settings")


def own_settings_variables(service: str) -> set[str]:
    """The variables the service's Settings adds to its shopkit base."""
    fields, aliases = _class_fields(REPO / "subgraphs" / service / "src" / service / "config.py", "Settings")
    return {name for field in fields for name in aliases.get(field, [field.upper()])}


def settings_variables(service: str) -> set[str]:
    """Every environment variable the service reads: its Settings' and its base's (shopkit.settings)."""
    bases = ["ServiceSettings"] + (
        ["MongoServiceSettings"] if settings_base(service) == "MongoServiceSettings" else []
    )
    base_fields = {field.upper() for base in bases for field in _class_fields(SETTINGS_BASES, base)[0]}
    return base_fields | own_settings_variables(service)
