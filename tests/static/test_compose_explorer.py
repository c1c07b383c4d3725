"""docker-compose.yml's optional, development-only `explorer` profile: GraphiQL for the composed
graph (shopkit.explorer, what `make up` serves on :4080 in its dev profile).

It runs from the users image, so that image must carry the explorer and its files; the page
queries the router from the browser, so the router's published address and the development
router profile's CORS policy must let it.
"""

import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from static.dockerfile_model import parse
from static.static_support import COMPOSE_FILE, REPO, _class_fields, load_project

EXPLORER = REPO / "libs" / "shopkit" / "src" / "shopkit" / "explorer"

Services = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def with_profile(gocheck_bin: Path) -> Services:
    services: Services = load_project(gocheck_bin, [COMPOSE_FILE], {"COMPOSE_PROFILES": "explorer"})[
        "services"
    ]
    return services


def test_the_explorer_runs_only_in_its_profile(services: Services, with_profile: Services) -> None:
    assert "explorer" not in services
    assert set(with_profile) == {*services, "explorer"}
    assert {name: s for name, s in with_profile.items() if name != "explorer"} == services


def test_it_runs_shopkit_s_explorer_from_the_users_image(with_profile: Services) -> None:
    explorer = with_profile["explorer"]
    assert explorer["image"] == with_profile["users"]["image"]
    assert "build" not in explorer, "one image, built once by the users service"
    assert explorer["command"] == ["python", "-m", "shopkit.explorer"]
    assert (EXPLORER / "__main__.py").is_file()
    # Only variables the explorer's Settings read (shopkit/explorer/server.py).
    fields, _ = _class_fields(EXPLORER / "server.py", "Settings")
    assert set(explorer["environment"]) <= {field.upper() for field in fields}
    assert explorer["read_only"] is True


def test_the_users_image_carries_every_file_the_explorer_serves() -> None:
    """Each of shopkit.explorer.assets' npm-installed files is copied into the users image's build."""
    assets = re.findall(r'Path\("(node_modules/[^"]+)"\)', (EXPLORER / "assets.py").read_text())
    assert assets, "no npm-installed assets found in shopkit/explorer/assets.py"
    copies = " ".join(
        i.args for stage in parse(REPO / "subgraphs" / "users" / "Dockerfile") for i in stage.all("COPY")
    )
    for asset in assets:
        directory, name = asset.rsplit("/", 1)
        assert f"/explorer/{asset}" in copies or f"/explorer/{directory}/" in copies, asset
        assert name in copies, asset


def test_it_points_the_browser_at_the_published_router(with_profile: Services) -> None:
    explorer = with_profile["explorer"]
    router_ports = {int(p["target"]): p for p in with_profile["router"]["ports"]}
    graph = router_ports[int(with_profile["router"]["environment"]["ROUTER_LISTEN"].rsplit(":", 1)[1])]
    assert explorer["environment"]["GRAPH_URL"] == f"http://{graph['host_ip']}:{graph['published']}/"
    [port] = explorer["ports"]
    assert (port["host_ip"], int(port["target"])) == ("127.0.0.1", int(explorer["environment"]["PORT"]))
    assert explorer["environment"]["HOST"] == "0.0.0.0"
    assert {name: spec["condition"] for name, spec in explorer["depends_on"].items()} == {
        "router": "service_healthy"
    }


def test_the_development_router_lets_the_explorer_s_origin_in(with_profile: Services) -> None:
    explorer = with_profile["explorer"]
    [port] = explorer["ports"]
    origin = f"http://{port['host_ip']}:{port['published']}"
    config = yaml.safe_load((REPO / "router" / "router.dev.yaml").read_text())
    patterns = [p for policy in config["cors"]["policies"] for p in policy.get("match_origins", [])]
    assert any(re.fullmatch(pattern, origin) for pattern in patterns), origin
    # Introspection, which the page's documentation needs, is the development profile's alone.
    assert config["supergraph"]["introspection"] is True


def test_router_config_selects_the_development_profile(gocheck_bin: Path) -> None:
    env = {"COMPOSE_PROFILES": "explorer", "ROUTER_CONFIG": "router.dev.yaml"}
    router = load_project(gocheck_bin, [COMPOSE_FILE], env)["services"]["router"]
    assert router["command"][router["command"].index("--config") + 1] == "/dist/config/router.dev.yaml"


class Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_probe_follows_the_explorer_s_health(
    with_profile: Services, health_server: http.server.HTTPServer, status: int, healthy: bool
) -> None:
    Health.status = status
    test = with_profile["explorer"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    # The explorer answers /health (shopkit/explorer/server.py).
    assert 'Route("/health", health)' in (EXPLORER / "server.py").read_text()
    assert test[1:3] == ["python", "-c"]
    env = {"PORT": str(health_server.server_address[1])}
    result = subprocess.run([sys.executable, *test[2:]], env=env, capture_output=True, check=False)
    assert (result.returncode == 0) is healthy
