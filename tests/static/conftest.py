"""Fixtures for the static checks of the container and CI files (helpers: static_support.py)."""

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from static.helm_support import INSTALL_HELM
from static.static_support import (
    COMPOSE_FILE,
    GOCHECK,
    Subgraph,
    find_go,
    load_project,
    read_subgraphs,
    read_versions,
)


@pytest.fixture(scope="session")
def gocheck_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Builds the Go checkers once per session (the Go build cache makes rebuilds quick)."""
    go = find_go()
    if go is None:
        pytest.fail("Go 1.24+ is needed to build tests/static/gocheck (compose-go, patternmatcher).")
    out = tmp_path_factory.mktemp("gocheck")
    result = subprocess.run(
        [go, "build", "-buildvcs=false", "-o", f"{out}/", "./composecheck", "./buildcontext"],
        cwd=GOCHECK,
        capture_output=True,
        text=True,
        env={**os.environ, "GOFLAGS": "-mod=readonly"},
        check=False,
    )
    assert result.returncode == 0, f"building tests/static/gocheck failed:\n{result.stderr}"
    return out


@pytest.fixture(scope="session")
def compose(gocheck_bin: Path) -> dict[str, Any]:
    """docker-compose.yml as docker compose resolves it, with no variables set."""
    return load_project(gocheck_bin, [COMPOSE_FILE])


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


@pytest.fixture(scope="session")
def subgraphs() -> list[Subgraph]:
    return read_subgraphs()


@pytest.fixture(scope="session")
def versions() -> dict[str, str]:
    return read_versions()


@pytest.fixture(scope="session")
def helm() -> str:
    """The pinned helm, built by scripts/install-helm.sh when missing (a few minutes, once)."""
    if find_go() is None:
        pytest.fail(f"helm is built with Go: install Go, then run {INSTALL_HELM}")
    result = subprocess.run(["bash", str(INSTALL_HELM)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{INSTALL_HELM} failed:\n{result.stderr}"
    path = result.stdout.strip().splitlines()[-1]
    assert Path(path).is_file(), path
    return path


@pytest.fixture(scope="session")
def jwt_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Ed25519 signing key for the chart's users Secret (secrets.users.jwtPrivateKey)."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path_factory.mktemp("helm") / "jwt-ed25519.pem"
    path.write_bytes(pem)
    return path
