"""Shared facts for the static checks of the container and CI files.

Nothing here needs a Docker engine: the compose file is loaded by compose-go
(the library the docker compose CLI is built on), the build context is computed
with moby/patternmatcher (docker's .dockerignore matcher), the Dockerfiles are
linted by hadolint and the workflow by actionlint.
"""

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GOCHECK = Path(__file__).resolve().parent / "gocheck"
COMPOSE_FILE = REPO / "docker-compose.yml"
PRODUCTION_OVERRIDE = REPO / "docker" / "compose.production.yml"


@dataclass(frozen=True)
class Subgraph:
    name: str
    port: int
    routing_url: str

    @property
    def graphql_path(self) -> str:
        return urlsplit(self.routing_url).path


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.fail("Go 1.24+ is needed to build tests/static/gocheck (compose-go, patternmatcher).")
    return go


@pytest.fixture(scope="session")
def gocheck_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Builds the Go checkers once per session (the Go build cache makes rebuilds instant)."""
    out = tmp_path_factory.mktemp("gocheck")
    result = subprocess.run(
        [_go(), "build", "-buildvcs=false", "-o", f"{out}/", "./composecheck", "./buildcontext"],
        cwd=GOCHECK,
        capture_output=True,
        text=True,
        env={**os.environ, "GOFLAGS": "-mod=readonly"},
        check=False,
    )
    assert result.returncode == 0, f"building tests/static/gocheck failed:\n{result.stderr}"
    return out


def run_composecheck(
    gocheck_bin: Path, files: list[Path], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
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
    result = run_composecheck(gocheck_bin, files, env)
    assert result.returncode == 0, result.stderr
    project: dict[str, Any] = json.loads(result.stdout)
    return project


@pytest.fixture(scope="session")
def compose(gocheck_bin: Path) -> dict[str, Any]:
    """docker-compose.yml as docker compose resolves it (interpolated, paths absolute), no variables set."""
    return load_project(gocheck_bin, [COMPOSE_FILE])


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


@pytest.fixture(scope="session")
def subgraphs() -> list[Subgraph]:
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


@pytest.fixture(scope="session")
def versions() -> dict[str, str]:
    """The pinned tool versions from scripts/versions.sh (plain NAME=value lines)."""
    text = (REPO / "scripts" / "versions.sh").read_text()
    return dict(re.findall(r"^([A-Z_]+)=([^\s\"$]+)$", text, flags=re.MULTILINE))
