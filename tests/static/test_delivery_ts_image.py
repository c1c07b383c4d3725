"""The TypeScript delivery's image and its compose override (docker/compose.delivery-ts.yml):
linted, unprivileged, probed like the others, and swapped in with nothing else changed."""

import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from static.dockerfile_model import parse
from static.static_support import COMPOSE_FILE, REPO, load_project
from static.test_dockerfiles import run_hadolint

DOCKERFILE = REPO / "subgraphs" / "delivery-ts" / "Dockerfile"
OVERRIDE = REPO / "docker" / "compose.delivery-ts.yml"


def test_hadolint_finds_nothing() -> None:
    result = run_hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_is_unprivileged_pinned_and_installed_from_the_lock_file() -> None:
    stages = parse(DOCKERFILE)
    runtime = stages[-1]
    assert all(stage.base.startswith("node:20.") and "-slim" in stage.base for stage in stages)
    [user] = runtime.all("USER")
    assert user.args == "10001:10001"
    copied = " ".join(instruction.args for instruction in stages[0].all("COPY"))
    assert "subgraphs/delivery-ts/package-lock.json" in copied
    assert any("npm ci" in instruction.args for instruction in stages[0].all("RUN"))


def test_the_override_swaps_only_the_delivery_image(gocheck_bin: Path) -> None:
    base = load_project(gocheck_bin, [COMPOSE_FILE])["services"]
    swapped = load_project(gocheck_bin, [COMPOSE_FILE, OVERRIDE])["services"]

    delivery = swapped["delivery"]
    assert delivery["build"]["dockerfile"] == "subgraphs/delivery-ts/Dockerfile"
    assert Path(delivery["build"]["context"]) == REPO
    [image_probe] = parse(DOCKERFILE)[-1].all("HEALTHCHECK")
    assert delivery["healthcheck"]["test"] == ["CMD", *image_probe.exec_form()]
    # The same data and configuration: only how the service is built and probed differs.
    assert delivery["environment"] == base["delivery"]["environment"]
    assert delivery["depends_on"] == base["delivery"]["depends_on"]
    assert {name: service for name, service in swapped.items() if name != "delivery"} == {
        name: service for name, service in base.items() if name != "delivery"
    }


class Readiness(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health/ready" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def readiness_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Readiness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_probe_follows_readiness(
    readiness_server: http.server.HTTPServer, status: int, healthy: bool
) -> None:
    Readiness.status = status
    [healthcheck] = parse(DOCKERFILE)[-1].all("HEALTHCHECK")
    port = str(readiness_server.server_address[1])
    result = subprocess.run(healthcheck.exec_form(), env={"PORT": port, "PATH": "/usr/bin:/bin"}, check=False)
    assert (result.returncode == 0) is healthy
