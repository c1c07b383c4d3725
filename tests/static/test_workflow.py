""".github/workflows/ci.yml: linted by actionlint, and doing what .ci/run does."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from static.static_support import REPO, WORKFLOW, find_go

SHA_PINNED = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}")
INSTALL_ACTIONLINT = REPO / "scripts" / "install-actionlint.sh"


@pytest.fixture(scope="module")
def actionlint() -> str:
    """The pinned actionlint, installed by scripts/install-actionlint.sh when missing."""
    if find_go() is None:
        pytest.fail(f"actionlint needs Go to install: install Go, then run {INSTALL_ACTIONLINT}")
    result = subprocess.run(["bash", str(INSTALL_ACTIONLINT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{INSTALL_ACTIONLINT} failed:\n{result.stderr}"
    path = result.stdout.strip().splitlines()[-1]
    assert Path(path).is_file(), path
    return path


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    loaded["on"] = loaded.pop(True)
    return {str(key): value for key, value in loaded.items()}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = job["steps"]
    return result


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    [step] = [step for step in steps(job) if step.get("uses", "").startswith(f"{action}@")]
    return step


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in steps(job) if "run" in step]


def compose_image(service: str) -> str:
    image: str = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"][service]["image"]
    return image


def test_actionlint_finds_nothing(actionlint: str) -> None:
    result = subprocess.run(
        [actionlint, "-no-color", str(WORKFLOW)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_flags_a_broken_workflow(actionlint: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  test:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - run: echo ${{ matrix.missing }}\n"
        "      - uses: actions/checkout@v4\n"
        "        with:\n"
        "          fetch-deepth: 1\n"
    )
    result = subprocess.run(
        [actionlint, "-no-color", str(broken)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "matrix" in result.stdout
    assert "fetch-deepth" in result.stdout


def test_runs_on_pushes_and_pull_requests(workflow: dict[str, Any]) -> None:
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert workflow["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_commit() -> None:
    for line in WORKFLOW.read_text().splitlines():
        if "uses:" in line:
            reference = line.split("uses:", 1)[1].split("#")[0].strip()
            assert SHA_PINNED.fullmatch(reference), f"not pinned to a commit SHA: {line.strip()}"
            assert re.search(r"# v\d+\.\d+\.\d+$", line), f"no release tag comment: {line.strip()}"


def test_toolchains_match_the_project(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["test"]
    assert step_using(job, "actions/setup-python")["with"]["python-version"] == "3.11"
    assert step_using(job, "actions/setup-node")["with"]["node-version"] == "20"
    setup_go = step_using(job, "actions/setup-go")["with"]
    assert (REPO / setup_go["go-version-file"]).is_file()
    # The same uv as the one the images copy in from ghcr.io/astral-sh/uv.
    dockerfile = (REPO / "subgraphs" / "users" / "Dockerfile").read_text()
    uv_image = re.search(r"ghcr\.io/astral-sh/uv:(\S+)", dockerfile)
    assert uv_image is not None
    assert f'"uv=={uv_image[1]}"' in "\n".join(runs(job))


def test_stores_are_service_containers_like_in_compose(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["test"]
    services = job["services"]
    assert services["mongo"]["image"] == compose_image("mongo")
    assert services["redis"]["image"] == compose_image("redis")
    for name, service in services.items():
        assert "--health-cmd" in service["options"], f"{name} has no health check: jobs would start too early"
    assert services["mongo"]["ports"] == ["27017:27017"]
    assert job["env"]["MONGODB_URI"] == "mongodb://127.0.0.1:27017/"
    assert services["redis"]["ports"] == ["6379:6379"]
    assert job["env"]["SHOPGRAPH_TEST_REDIS_URL"].startswith("redis://127.0.0.1:6379/")


def test_runs_the_schema_check_then_the_tests(workflow: dict[str, Any]) -> None:
    commands = runs(workflow["jobs"]["test"])
    assert commands.index("make check-schema") < commands.index("make test")


def test_router_binary_is_cached_per_pinned_version(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["test"]
    [versions] = [step for step in steps(job) if step.get("id") == "versions"]
    assert "source scripts/versions.sh" in versions["run"]
    assert 'echo "router=$ROUTER_VERSION"' in versions["run"]
    caches = [step["with"] for step in steps(job) if step.get("uses", "").startswith("actions/cache@")]
    [router] = [cache for cache in caches if cache["key"].startswith("apollo-router-")]
    assert router["key"].endswith("${{ steps.versions.outputs.router }}")
    assert router["path"].endswith("/apollo-router-${{ steps.versions.outputs.router }}")
    # The cache is restored before `make setup`, which builds the router only when it is missing.
    names = [step.get("name", "") for step in steps(job)]
    assert names.index("Cache the Apollo Router binary") < [s.get("run") for s in steps(job)].index(
        "make setup"
    )


def test_docker_job_brings_up_the_compose_stack(workflow: dict[str, Any]) -> None:
    commands = "\n".join(runs(workflow["jobs"]["docker"]))
    assert "docker compose config --quiet" in commands
    assert "docker compose up --detach --wait" in commands
    assert "http://127.0.0.1:4000/" in commands
    assert "docker compose down --volumes" in commands
