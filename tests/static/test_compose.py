"""docker-compose.yml: valid for compose, and consistent with supergraph.yaml, the
router config, the Dockerfiles and the pinned router version."""

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from static.dockerfile_model import parse
from static.static_support import (
    COMPOSE_FILE,
    GOCHECK,
    PRODUCTION_OVERRIDE,
    REPO,
    Subgraph,
    find_go,
    load_project,
    run_composecheck,
)

STORES = {"mongo", "redis"}
MONGO_SUBGRAPHS = {"users", "orders", "payments"}
# Variables read by shopkit.serve besides the documented ones.
SERVE_VARIABLES = {"LOG_LEVEL", "ACCESS_LOG"}


def documented_variables() -> set[str]:
    """The variable names in the Configuration table of docs/architecture.md."""
    text = (REPO / "docs" / "architecture.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1]))
    assert names, "no variables found in docs/architecture.md's Configuration table"
    return names


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in (service.get("depends_on") or {}).items()}


def published_ports(service: dict[str, Any]) -> dict[int, int]:
    """container port -> published host port."""
    return {int(port["target"]): int(port["published"]) for port in service.get("ports") or []}


def bind_mounts(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """container path -> mount, for bind mounts."""
    return {v["target"]: v for v in service.get("volumes") or [] if v["type"] == "bind"}


# --- the compose implementation's own check ----------------------------------------------------------


def test_compose_file_passes_the_compose_config_check(compose: dict[str, Any]) -> None:
    # The `compose` fixture fails unless compose-go loads, validates against the
    # compose-spec schema and consistency-checks the file; here: the project it saw.
    assert compose["name"] == "shopgraph"
    assert set(compose["services"]) == STORES | {"users", "orders", "payments", "delivery", "router"}


@pytest.fixture(scope="module")
def compose_spec_schema(gocheck_bin: Path) -> dict[str, Any]:
    """The official compose-spec JSON schema, as shipped in the compose-go module gocheck pins."""
    go = find_go()
    assert go is not None
    result = subprocess.run(
        [go, "list", "-m", "-f", "{{.Dir}}", "github.com/compose-spec/compose-go/v2"],
        cwd=GOCHECK,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    schema: dict[str, Any] = json.loads(
        (Path(result.stdout.strip()) / "schema" / "compose-spec.json").read_text()
    )
    return schema


@pytest.mark.parametrize(
    "path",
    [COMPOSE_FILE, PRODUCTION_OVERRIDE, REPO / "docker" / "compose.tracing.yml"],
    ids=lambda path: path.name,
)
def test_files_are_valid_against_the_compose_spec_schema(
    path: Path, compose_spec_schema: dict[str, Any]
) -> None:
    # A second, independent validator: plain YAML and a JSON Schema library, as schema-based tools do.
    validator = jsonschema.validators.validator_for(compose_spec_schema)(compose_spec_schema)
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(yaml.load(path.read_text(), ComposeYamlLoader))
    ]
    assert not errors


class ComposeYamlLoader(yaml.SafeLoader):
    """Plain YAML plus the compose spec's merge tags (`!override`, `!reset`), read as their value."""


def _tagged_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag in ("!override", "!reset"):
    ComposeYamlLoader.add_constructor(_tag, _tagged_value)


def test_compose_spec_schema_flags_a_misspelled_key(compose_spec_schema: dict[str, Any]) -> None:
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    validator = jsonschema.validators.validator_for(compose_spec_schema)(compose_spec_schema)
    assert any("helthcheck" in error.message for error in validator.iter_errors(broken))


@pytest.mark.parametrize(
    ("mistake", "replace", "by", "message"),
    [
        ("unknown condition", "condition: service_healthy", "condition: service_ready", "must be one of"),
        ("undefined volume", "- users-data:/var", "- user-data:/var", "undefined volume"),
        ("misspelled key", "healthcheck: *subgraph", "healthchek: *subgraph", "healthchek"),
        (
            "unknown service",
            "      users:\n        condition",
            "      user:\n        condition",
            "undefined service",
        ),
    ],
)
def test_compose_check_rejects_a_broken_file(
    gocheck_bin: Path, tmp_path: Path, mistake: str, replace: str, by: str, message: str
) -> None:
    text = COMPOSE_FILE.read_text()
    assert replace in text, f"the {mistake!r} case no longer applies to docker-compose.yml"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(replace, by, 1))
    result = run_composecheck(gocheck_bin, [broken])
    assert result.returncode != 0, f"compose accepted a file with a {mistake}"
    assert message in result.stderr


# --- subgraphs ----------------------------------------------------------------------------------------


def test_every_subgraph_is_built_from_its_own_dockerfile(
    services: dict[str, dict[str, Any]], subgraphs: list[Subgraph]
) -> None:
    for subgraph in subgraphs:
        assert subgraph.name in services, f"supergraph.yaml's {subgraph.name} has no compose service"
        build = services[subgraph.name]["build"]
        # The context is the repository root, so the image can copy libs/shopkit.
        assert Path(build["context"]) == REPO
        assert build["dockerfile"] == f"subgraphs/{subgraph.name}/Dockerfile"
        assert (REPO / build["dockerfile"]).is_file()
    subgraph_services = {name for name, service in services.items() if "build" in service}
    assert subgraph_services == {subgraph.name for subgraph in subgraphs}


def test_subgraph_ports_agree_everywhere(
    services: dict[str, dict[str, Any]], subgraphs: list[Subgraph]
) -> None:
    for subgraph in subgraphs:
        service = services[subgraph.name]
        stages = parse(REPO / "subgraphs" / subgraph.name / "Dockerfile")
        runtime = stages[-1]
        assert service["environment"]["PORT"] == str(subgraph.port)
        assert runtime.env()["PORT"] == str(subgraph.port)
        assert [e.args for e in runtime.all("EXPOSE")] == [str(subgraph.port)]


def test_router_reaches_the_subgraphs_by_service_name(
    services: dict[str, dict[str, Any]], subgraphs: list[Subgraph]
) -> None:
    env = services["router"]["environment"]
    router_config = yaml.safe_load((REPO / "router" / "router.yaml").read_text())
    overrides = router_config["override_subgraph_url"]
    assert set(overrides) == {subgraph.name for subgraph in subgraphs}
    for subgraph in subgraphs:
        variable = f"{subgraph.name.upper()}_URL"
        # router.yaml reads the variable, defaulting to supergraph.yaml's local URL ...
        assert overrides[subgraph.name] == f"${{env.{variable}:-{subgraph.routing_url}}}"
        # ... and compose sets it to the service on the container network.
        assert env[variable] == f"http://{subgraph.name}:{subgraph.port}{subgraph.graphql_path}"


def test_the_router_serves_the_one_composed_supergraph(services: dict[str, dict[str, Any]]) -> None:
    router = services["router"]
    mounts = bind_mounts(router)
    command: list[str] = router["command"]
    supergraph_path = command[command.index("--supergraph") + 1]
    assert Path(mounts[supergraph_path]["source"]) == REPO / "router" / "supergraph.graphql"
    # A missing bind source would make docker create an empty directory in its place.
    assert (REPO / "router" / "supergraph.graphql").is_file(), "run `make compose` and commit its output"
    # No second supergraph anywhere in the container setup: routing URLs are overridden by env.
    for path in [COMPOSE_FILE, *sorted((REPO / "docker").rglob("*"))]:
        if path.is_file():
            assert "join__graph" not in path.read_text(), f"{path} holds a supergraph"


def test_router_image_is_the_locally_built_version(
    services: dict[str, dict[str, Any]], versions: dict[str, str]
) -> None:
    assert services["router"]["image"] == f"ghcr.io/apollographql/router:v{versions['ROUTER_VERSION']}"


def test_router_config_and_supergraph_are_mounted_read_only(
    services: dict[str, dict[str, Any]], gocheck_bin: Path
) -> None:
    router = services["router"]
    mounts = bind_mounts(router)
    for target, mount in mounts.items():
        assert mount["read_only"], f"{target} is mounted writable"
        assert Path(mount["source"]).is_relative_to(REPO / "router")
    command: list[str] = router["command"]
    config_path = command[command.index("--config") + 1]
    assert Path(mounts[config_path]["source"]) == REPO / "router" / "router.yaml"
    # The development profile is mounted too, for ROUTER_CONFIG=router.dev.yaml.
    dev_project = load_project(gocheck_bin, [COMPOSE_FILE], {"ROUTER_CONFIG": "router.dev.yaml"})
    dev = dev_project["services"]["router"]
    dev_path = dev["command"][dev["command"].index("--config") + 1]
    assert Path(bind_mounts(dev)[dev_path]["source"]) == REPO / "router" / "router.dev.yaml"


def test_only_the_router_is_published(services: dict[str, dict[str, Any]]) -> None:
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"router"}


def test_router_listens_on_the_published_ports(services: dict[str, dict[str, Any]]) -> None:
    router = services["router"]
    env = router["environment"]
    router_config = yaml.safe_load((REPO / "router" / "router.yaml").read_text())
    assert router_config["supergraph"]["listen"].startswith("${env.ROUTER_LISTEN:-")
    assert router_config["health_check"]["listen"].startswith("${env.ROUTER_HEALTH_LISTEN:-")
    assert env["ROUTER_LISTEN"] == "0.0.0.0:4000"
    assert env["ROUTER_HEALTH_LISTEN"] == "0.0.0.0:8088"
    assert published_ports(router)[4000] == 4000
    assert published_ports(router)[8088] == 8088
    probe = " ".join(router["healthcheck"]["test"])
    assert "/dev/tcp/127.0.0.1/8088" in probe
    assert f"GET {router_config['health_check']['path']}?ready " in probe


class RouterHealth(HTTPServer):
    """Answers GET /health?ready like the router's health check: {"status": "UP" | "DOWN"}."""

    status = "UP"


class _RouterHealthHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, RouterHealth)
        if self.path != "/health?ready":
            self.send_error(404)
            return
        body = json.dumps({"status": self.server.status}).encode()
        self.send_response(200 if self.server.status == "UP" else 503)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize(("status", "healthy"), [("UP", True), ("DOWN", False)])
def test_router_healthcheck_probe_follows_readiness(
    services: dict[str, dict[str, Any]], status: str, healthy: bool
) -> None:
    test: list[str] = services["router"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]
    server = RouterHealth(("127.0.0.1", 0), _RouterHealthHandler)
    server.status = status
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # The same probe, pointed at this server instead of the router's port 8088.
        probe = test[3].replace("/127.0.0.1/8088", f"/127.0.0.1/{server.server_address[1]}")
        result = subprocess.run(["bash", "-c", probe], capture_output=True, timeout=30, check=False)
    finally:
        server.shutdown()
        thread.join()
    assert (result.returncode == 0) is healthy


# --- health and start order ---------------------------------------------------------------------------


def test_every_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]], subgraphs: list[Subgraph]
) -> None:
    for name, service in services.items():
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}
    for subgraph in subgraphs:
        # The image's own probe (tests/static/test_dockerfiles.py runs it against a server).
        [image_probe] = parse(REPO / "subgraphs" / subgraph.name / "Dockerfile")[-1].all("HEALTHCHECK")
        assert services[subgraph.name]["healthcheck"]["test"] == ["CMD", *image_probe.exec_form()]


def test_services_start_in_order_once_healthy(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert condition == "service_healthy", f"{name} waits for {dependency} to be {condition}"
    assert depends_on(services["mongo"]) == {}
    assert depends_on(services["redis"]) == {}
    assert set(depends_on(services["users"])) == STORES
    # orders, payments and delivery verify tokens against the users service's JWKS.
    assert set(depends_on(services["orders"])) == STORES | {"users"}
    assert set(depends_on(services["payments"])) == STORES | {"users"}
    assert set(depends_on(services["delivery"])) == {"redis", "users"}
    assert set(depends_on(services["router"])) == {"users", "orders", "payments", "delivery"}


# --- stores -------------------------------------------------------------------------------------------


def test_stores_are_pinned_official_images_with_named_volumes(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    assert re.fullmatch(r"mongo:\d+\.\d+\.\d+", services["mongo"]["image"])
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+(-alpine)?", services["redis"]["image"])
    data_dirs = {"mongo": "/data/db", "redis": "/data"}
    for name, data_dir in data_dirs.items():
        [volume] = [v for v in services[name]["volumes"] if v["target"] == data_dir]
        assert volume["type"] == "volume"
        assert volume["source"] in compose["volumes"]
    # AOF on: stream entries (the events) survive a Redis restart.
    command: list[str] = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_subgraphs_reach_stores_and_jwks_by_service_name(
    services: dict[str, dict[str, Any]], subgraphs: list[Subgraph]
) -> None:
    ports = {subgraph.name: subgraph.port for subgraph in subgraphs}
    for subgraph in subgraphs:
        env = services[subgraph.name]["environment"]
        events = urlsplit(env["EVENTS_REDIS_URL"])
        assert (events.hostname, events.port) == ("redis", 6379)
        if subgraph.name in MONGO_SUBGRAPHS:
            mongo = urlsplit(env["MONGODB_URI"])
            assert (mongo.hostname, mongo.port) == ("mongo", 27017)
            assert env["MONGODB_DATABASE"] == subgraph.name
        if subgraph.name == "delivery":
            store = urlsplit(env["REDIS_URL"])
            assert (store.hostname, store.port) == ("redis", 6379)
            assert store.path != events.path, "delivery's store and the event streams share a database"
        if subgraph.name != "users":
            assert env["JWKS_URL"] == f"http://users:{ports['users']}/.well-known/jwks.json"


def test_subgraphs_are_configured_only_with_documented_variables(
    services: dict[str, dict[str, Any]], subgraphs: list[Subgraph]
) -> None:
    allowed = documented_variables() | SERVE_VARIABLES
    for subgraph in subgraphs:
        unknown = set(services[subgraph.name]["environment"]) - allowed
        assert not unknown, f"{subgraph.name}: {unknown} are not in docs/architecture.md"


# --- secrets ------------------------------------------------------------------------------------------


def test_account_passwords_come_from_the_environment(gocheck_bin: Path) -> None:
    env = {"ADMIN_PASSWORD": "from-the-shell", "DEMO_CUSTOMER_PASSWORD": "also-from-the-shell"}
    users = load_project(gocheck_bin, [COMPOSE_FILE], env)["services"]["users"]
    assert users["environment"]["ADMIN_PASSWORD"] == "from-the-shell"
    assert users["environment"]["DEMO_CUSTOMER_PASSWORD"] == "also-from-the-shell"


def test_signing_key_lives_in_a_volume_not_in_the_image(services: dict[str, dict[str, Any]]) -> None:
    users = services["users"]
    key_file = Path(users["environment"]["JWT_PRIVATE_KEY_FILE"])
    [volume] = [v for v in users["volumes"] if key_file.is_relative_to(v["target"])]
    assert volume["type"] == "volume"


def test_production_override_requires_secrets_from_outside(gocheck_bin: Path) -> None:
    files = [COMPOSE_FILE, PRODUCTION_OVERRIDE]
    missing = run_composecheck(gocheck_bin, files)
    assert missing.returncode != 0
    for variable in (
        "ADMIN_PASSWORD",
        "DEMO_CUSTOMER_PASSWORD",
        "JWT_PRIVATE_KEY_PATH",
        "CARD_FINGERPRINT_KEY",
    ):
        assert variable in missing.stderr

    key = "/etc/shopgraph/jwt-ed25519.pem"
    env = {
        "ADMIN_PASSWORD": "s3cret",
        "DEMO_CUSTOMER_PASSWORD": "s3cret-too",
        "JWT_PRIVATE_KEY_PATH": key,
        "CARD_FINGERPRINT_KEY": "fingerprint-s3cret",
    }
    project = load_project(gocheck_bin, files, env)
    services = project["services"]
    users = services["users"]
    assert users["environment"]["ADMIN_PASSWORD"] == "s3cret"
    assert users["environment"]["DEMO_CUSTOMER_PASSWORD"] == "s3cret-too"
    [secret] = users["secrets"]
    assert project["secrets"][secret["source"]]["file"] == key
    assert users["environment"]["JWT_PRIVATE_KEY_FILE"] == secret["target"]
    router_command: list[str] = services["router"]["command"]
    assert router_command[router_command.index("--config") + 1] == "/dist/config/router.yaml"
    assert services["payments"]["environment"]["CARD_FINGERPRINT_KEY"] == "fingerprint-s3cret"
    # With real secrets the graph is published on every interface; health and metrics stay local.
    ports = {int(port["target"]): port.get("host_ip") for port in services["router"]["ports"]}
    assert ports == {4000: None, 8088: "127.0.0.1", 9080: "127.0.0.1"}


def test_the_development_file_publishes_only_on_loopback(services: dict[str, dict[str, Any]]) -> None:
    # Its passwords and keys are development defaults: nothing is reachable from elsewhere.
    for service in services.values():
        for port in service.get("ports") or []:
            assert port.get("host_ip") == "127.0.0.1", port
