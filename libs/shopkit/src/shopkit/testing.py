"""Real store servers for tests: a redis-server and the embedded MongoDB store per test session.

Used as a pytest plugin (`pytest_plugins = ["shopkit.testing"]`). Each session
gets its own servers on free ports in a temporary folder, so tests never touch
the data of a running `make up` stack. The embedded store is FerretDB on its
own PostgreSQL, started by scripts/embedded-store.sh exactly as `make up` starts
it. With `MONGODB_URI` set, tests use that MongoDB instead (each test in a fresh
database; `FERRETDB_POSTGRESQL_URL` too if it is a FerretDB); with
`SHOPGRAPH_TEST_REDIS_URL` set, they use that Redis, which they flush first: point
it only at a throwaway server, such as a CI service container.
"""

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pymongo
import pytest
import redis

from shopkit.ferretdb import EQUALITY_INDEX_SUFFIX, METADATA_TABLE
from shopkit.metrics import store_calls_made
from shopkit.mongo import MongoDB, Server, mongo_commands_sent

REPO_ROOT = Path(os.environ.get("SHOPGRAPH_REPO_ROOT", Path(__file__).resolve().parents[4]))
EMBEDDED_STORE_SCRIPT = REPO_ROOT / "scripts" / "embedded-store.sh"
# Durability is not what tests are for: a faster PostgreSQL.
TEST_POSTGRESQL_OPTIONS = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
# The role whose statements PostgreSQL explains into its log (see `query_plans`).
EXPLAINED_ROLE = "explained"


class Worker(Protocol):
    """A consumer, a relay: anything that works until cancelled."""

    def run(self) -> Coroutine[Any, Any, None]: ...


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[None]:
    """Runs the worker as a task for the length of the block, then cancels it and waits for it."""
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


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


@dataclass(frozen=True)
class EmbeddedStore:
    """One session's embedded store: FerretDB's MongoDB URI and the PostgreSQL behind it."""

    mongodb_uri: str
    postgresql_port: int
    postgresql_log: Path

    @property
    def postgresql_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgresql_port}/postgres"

    def psql(self, sql: str) -> str:
        """Runs SQL as the superuser; returns psql's unaligned output."""
        result = subprocess.run(
            ["psql", self.postgresql_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr}")
        return result.stdout


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    if not EMBEDDED_STORE_SCRIPT.exists():
        raise RuntimeError(f"{EMBEDDED_STORE_SCRIPT} is missing (set SHOPGRAPH_REPO_ROOT)")
    with log.open("ab") as output:
        return subprocess.Popen(
            ["bash", str(EMBEDDED_STORE_SCRIPT), *command], stdout=output, stderr=subprocess.STDOUT
        )


def start_ferretdb(
    folder: Path, postgresql_port: int, user: str = "postgres"
) -> tuple[str, subprocess.Popen[bytes]]:
    """A FerretDB on the session's PostgreSQL, connecting as `user`; returns its URI and process."""
    port = free_port()
    state = folder / f"ferretdb-{port}"
    postgresql_url = f"postgres://{user}@127.0.0.1:{postgresql_port}/postgres"
    process = _start(
        ["ferretdb", postgresql_url, str(port), str(state), "--log-level=warn"],
        folder / f"ferretdb-{port}.log",
    )
    wait_for_port(port, process)
    return f"mongodb://127.0.0.1:{port}/", process


@pytest.fixture(scope="session")
def embedded_store() -> Iterator[EmbeddedStore]:
    # Not under pytest's tmp_path: PostgreSQL runs as the postgres user when we
    # are root, and pytest's folders are closed to other users.
    folder = Path(tempfile.mkdtemp(prefix="shopgraph-test-store-"))
    folder.chmod(0o755)
    postgresql_port = free_port()
    log = folder / "postgresql.log"
    postgresql = _start(
        ["postgresql", str(folder / "postgresql"), str(postgresql_port), *TEST_POSTGRESQL_OPTIONS], log
    )
    ferretdb: subprocess.Popen[bytes] | None = None
    try:
        wait_for_port(postgresql_port, postgresql, timeout=60.0)
        mongodb_uri, ferretdb = start_ferretdb(folder, postgresql_port)
        yield EmbeddedStore(mongodb_uri, postgresql_port, log)
    finally:
        if ferretdb is not None:
            _stop(ferretdb)
        _stop(postgresql)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def mongodb_uri(request: pytest.FixtureRequest) -> str:
    external = os.environ.get("MONGODB_URI")
    if external:
        return external
    store: EmbeddedStore = request.getfixturevalue("embedded_store")
    return store.mongodb_uri


@pytest.fixture(scope="session")
def ferretdb_postgresql_url(request: pytest.FixtureRequest) -> str | None:
    """The PostgreSQL behind the tests' FerretDB; None on a real MongoDB."""
    if os.environ.get("MONGODB_URI"):
        return os.environ.get("FERRETDB_POSTGRESQL_URL") or None
    store: EmbeddedStore = request.getfixturevalue("embedded_store")
    return store.postgresql_url


@dataclass(frozen=True)
class Plan:
    query: str
    plan: str

    def sequential_scans(self) -> list[str]:
        """The tables this plan reads from start to end."""
        return re.findall(r"Seq Scan on (\S+)", self.plan)


class QueryPlans:
    """What PostgreSQL planned for every statement one FerretDB sent it.

    The FerretDB at `mongodb_uri` connects as a role for which auto_explain
    logs the plan of every statement; `since_mark` reads them back from the
    PostgreSQL log.
    """

    def __init__(self, mongodb_uri: str, log: Path) -> None:
        self.mongodb_uri = mongodb_uri
        self._log = log
        self._offset = 0

    def mark(self) -> None:
        self._offset = self._log.stat().st_size

    def of_database(self, database: str) -> list[Plan]:
        """The plans since the mark of the statements on this database's own tables."""
        return [
            plan
            for plan in self.since_mark()
            if f'"{database}".' in plan.query and METADATA_TABLE not in plan.query
        ]

    def since_mark(self) -> list[Plan]:
        with self._log.open("rb") as handle:
            handle.seek(self._offset)
            text = handle.read().decode(errors="replace")
        # Each log entry starts with a timestamp; an explained one reads
        # "LOG:  duration: ... plan:\n\tQuery Text: ...\n\t<plan lines>".
        entries = re.split(r"\n(?=\d{4}-\d\d-\d\d )", text)
        plans = []
        for entry in entries:
            if " plan:" not in entry or "Query Text:" not in entry:
                continue
            body = entry.split("Query Text:", 1)[1]
            query, _, plan = body.partition("\n")
            plans.append(Plan(query=query.strip(), plan=plan))
        return plans


only_on_the_embedded_store = pytest.mark.skipif(
    bool(os.environ.get("MONGODB_URI")), reason="PostgreSQL's plans exist only on the embedded store"
)


def explained_mongodb(plans: QueryPlans, store: EmbeddedStore, database: str, service: str) -> MongoDB:
    """A service's MongoDB on the FerretDB whose statements PostgreSQL explains (open it yourself)."""
    return MongoDB(plans.mongodb_uri, database, service=service, ferretdb_postgresql_url=store.postgresql_url)


def assert_answered_from_indexes(plans: list[Plan]) -> None:
    """No plan reads a table from start to end, and every read uses one of our equality indexes."""
    assert plans, "no plan was logged: is auto_explain on for the explained role?"
    scans = [plan for plan in plans if plan.sequential_scans()]
    assert scans == [], "\n\n".join(f"{plan.query}\n{plan.plan}" for plan in scans)
    reads = [plan for plan in plans if plan.query.startswith("SELECT")]
    assert reads, "no SELECT was explained"
    unindexed = [plan for plan in reads if EQUALITY_INDEX_SUFFIX not in plan.plan]
    assert unindexed == [], "\n\n".join(f"{plan.query}\n{plan.plan}" for plan in unindexed)


def analyze(store: EmbeddedStore, database: str) -> None:
    """Fresh planner statistics for every table of the database (autovacuum would, later)."""
    tables = store.psql(f"SELECT tablename FROM pg_tables WHERE schemaname = '{database}'").split()
    for table in tables:
        store.psql(f'ANALYZE "{database}"."{table}"')


@pytest.fixture(scope="session")
def query_plans(embedded_store: EmbeddedStore) -> Iterator[QueryPlans]:
    """A second FerretDB on the session's PostgreSQL whose every statement is explained."""
    embedded_store.psql(
        f"DO $$ BEGIN CREATE ROLE {EXPLAINED_ROLE} SUPERUSER LOGIN; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$; "
        f"ALTER ROLE {EXPLAINED_ROLE} SET auto_explain.log_min_duration = 0; "
        f"ALTER ROLE {EXPLAINED_ROLE} SET auto_explain.log_nested_statements = on"
    )
    folder = embedded_store.postgresql_log.parent
    mongodb_uri, process = start_ferretdb(folder, embedded_store.postgresql_port, user=EXPLAINED_ROLE)
    try:
        yield QueryPlans(mongodb_uri, embedded_store.postgresql_log)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def mongodb_server(mongodb_uri: str) -> Server:
    """Which server the tests' MongoDB is (as the services learn it at start)."""
    client: pymongo.MongoClient[dict[str, object]]
    with pymongo.MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000) as client:
        info = client.admin.command("buildInfo")
    return Server.FERRETDB if "ferretdbVersion" in info else Server.MONGODB


@dataclass(frozen=True)
class StoreWork:
    """Store-layer calls and the MongoDB commands they sent (see shopkit.metrics)."""

    calls: float
    commands: float

    @classmethod
    def now(cls) -> "StoreWork":
        return cls(calls=store_calls_made(), commands=mongo_commands_sent())

    def __sub__(self, earlier: "StoreWork") -> "StoreWork":
        return StoreWork(calls=self.calls - earlier.calls, commands=self.commands - earlier.commands)


def batch_commands(server: Server, *distinct_keys: int) -> int:
    """The commands DataLoader batches of these many distinct keys send.

    One `$in` per batch on MongoDB; one indexed lookup per key on FerretDB
    (a batch of one key is one lookup on both).
    """
    return sum(keys if server is Server.FERRETDB else 1 for keys in distinct_keys if keys)


@pytest.fixture
def database_name() -> str:
    """A fresh database name per test, so tests never see each other's data."""
    return f"test_{uuid.uuid4().hex[:12]}"
