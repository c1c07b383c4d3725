"""A users process of the sign-in scenario's own, beside the bench stack, hashing as production does.

The stack's users service hashes with argon2's CHEAPEST profile (so that
seeding a thousand customers is quick), which makes a sign-in cost nothing
worth measuring. This one runs `python -m users` with the production default
(RFC_9106_LOW_MEMORY) and the default throttle limits, on a database of its own
(`bench_signin`) on the bench stack's store, a Redis database of its own
(`REDIS_DATABASE`: the stack uses 0 and 1) and a signing key of its own. It
trusts X-Forwarded-For from 127.0.0.1, so each client the scenario plays has an
address. Its database and Redis database are emptied before it starts and after
it stops.
"""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from pymongo import MongoClient

from bench.config import REPO_ROOT, Settings
from bench.probes import listening_pids
from bench.side_process import free_port, wait_until_ready

DATABASE = "bench_signin"
REDIS_DATABASE = 7
PASSWORD_HASH_PROFILE = "RFC_9106_LOW_MEMORY"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
# Inherited settings that would change what is measured: the hashing and the throttle keep their defaults.
NOT_INHERITED = ("VIRTUAL_ENV", "PYTHONPATH", "PASSWORD_HASH_", "LOGIN_")


@dataclass(frozen=True)
class Running:
    url: str
    metrics_url: str
    pid: int  # the Python process serving (uv's child)


def redis_url(settings: Settings) -> str:
    return f"redis://127.0.0.1:{settings.ports.redis}/{REDIS_DATABASE}"


def service_env(settings: Settings, port: int) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    return {
        **inherited,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "TRACING_ENDPOINT": "",
        "MONGODB_URI": settings.mongodb_uri,
        "MONGODB_DATABASE": DATABASE,
        "FERRETDB_POSTGRESQL_URL": settings.ferretdb_postgresql_url or "",
        "EVENTS_REDIS_URL": redis_url(settings),
        "LOGIN_REDIS_URL": redis_url(settings),
        "JWT_PRIVATE_KEY_FILE": str(settings.work_dir / "signin-jwt-ed25519.pem"),
        "PASSWORD_HASH_PROFILE": PASSWORD_HASH_PROFILE,
        # uvicorn takes the client's address from X-Forwarded-For only from these peers.
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }


def throttle_keys(settings: Settings) -> list[str]:
    """The keys the service's throttle keeps in its Redis database (its failure windows)."""
    with redis.Redis.from_url(redis_url(settings), decode_responses=True) as store:
        return sorted(str(key) for key in store.scan_iter(count=1000))


def clear(settings: Settings) -> None:
    """Drops the process's database and empties its Redis database (the throttle's windows)."""
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    with client:
        client.drop_database(DATABASE)
    with redis.Redis.from_url(redis_url(settings)) as store:
        store.flushdb()


@contextmanager
def users_of_its_own(settings: Settings) -> Iterator[Running]:
    clear(settings)  # what an interrupted earlier run left
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (settings.stack_dir / "logs" / "users-signin-bench.log").open("wb")
    command = ["uv", "run", "--frozen", "--project", "subgraphs/users", "python", "-m", "users"]
    # Its own process group: uv and the Python it starts are stopped together.
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=service_env(settings, port), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until_ready(
            process, port, timeout=READY_TIMEOUT_S, what=f"the sign-in users process (see {log.name})"
        )
        serving = listening_pids({"users": port})["users"]
        yield Running(f"http://127.0.0.1:{port}/graphql", f"http://127.0.0.1:{port}/metrics", serving)
    finally:
        _stop(process)
        log.close()
        clear(settings)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to uv, which passes it on to the service (one signal: a second one makes uvicorn skip
    its shutdown); then to whatever is left of the process group, and at last SIGKILL."""
    process.terminate()
    for stop in (signal.SIGTERM, signal.SIGKILL):
        if _gone(process, STOP_TIMEOUT_S):
            return
        os.killpg(process.pid, stop)
    _gone(process, STOP_TIMEOUT_S)


def _gone(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Waits until no process of the group is left (uv reaped, its child exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()  # reaps uv: a zombie would still count as a member of the group
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False
