"""Real store servers for tests: a redis-server and a FerretDB per test session.

Used as a pytest plugin (`pytest_plugins = ["shopkit.testing"]`). Each session
gets its own servers on free ports in a temporary folder, so tests never touch
the data of a running `make up` stack. With `MONGODB_URI` set, tests use that
MongoDB instead of starting FerretDB (each test in a fresh database); with
`SHOPGRAPH_TEST_REDIS_URL` set, they use that Redis, which they flush first: point
it only at a throwaway server, such as a CI service container.
"""

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

TOOLS_DIR = Path(os.environ.get("SHOPGRAPH_TOOLS_DIR", Path.home() / ".local/share/shopgraph"))
FERRETDB_BIN = Path(os.environ.get("FERRETDB_BIN", TOOLS_DIR / "ferretdb-v1.24.2/bin/ferretdb"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("SHOPGRAPH_TEST_REDIS_URL")
    if external:
        # A throwaway server of the CI's (a service container): start clean, as a
        # server of our own would, so sessions run one after another see no leftovers.
        with redis.Redis.from_url(external) as client:
            client.flushall()
        yield external
        return
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise RuntimeError("redis-server is not installed: run `make setup`.")
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("MONGODB_URI")
    if external:
        yield external
        return
    if not FERRETDB_BIN.exists():
        raise RuntimeError(f"FerretDB is not built at {FERRETDB_BIN}: run `make setup`.")
    folder = tmp_path_factory.mktemp("ferretdb")
    port = free_port()
    process = subprocess.Popen(
        [
            str(FERRETDB_BIN),
            "--handler=sqlite",
            f"--sqlite-url=file:{folder}/",
            f"--state-dir={folder}",
            f"--listen-addr=127.0.0.1:{port}",
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        # One connection per client: FerretDB 1.24 (SQLite) applies an update as
        # read-then-write outside a transaction, so concurrent updates of one
        # document over several connections lose writes and conditional updates
        # all "win" (FerretDB/FerretDB#3040). Commands on one connection run in order.
        yield f"mongodb://127.0.0.1:{port}/?maxPoolSize=1"
    finally:
        _stop(process)


@pytest.fixture
def database_name() -> str:
    """A fresh database name per test, so tests never see each other's data."""
    return f"test_{uuid.uuid4().hex[:12]}"
