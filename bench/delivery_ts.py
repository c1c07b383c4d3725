"""The TypeScript delivery (subgraphs/delivery-ts) beside the bench stack's Python one, on the same
Redis and JWKS, for the side-by-side scenario. It is not in the stack: it answers only what the
scenario sends it directly."""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from bench.config import REPO_ROOT, Settings

MAIN = REPO_ROOT / "subgraphs" / "delivery-ts" / "dist" / "src" / "main.js"
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Running:
    url: str
    pid: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def typescript_delivery(settings: Settings) -> Iterator[Running]:
    if not MAIN.exists():
        raise RuntimeError(f"{MAIN} is missing: run `make deps`")
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "REDIS_URL": f"redis://127.0.0.1:{settings.ports.redis}/1",
        "EVENTS_REDIS_URL": settings.events_redis_url,
        "JWKS_URL": f"http://127.0.0.1:{settings.ports.users}/.well-known/jwks.json",
        "LOG_LEVEL": "WARNING",
    }
    log = (settings.stack_dir / "logs" / "delivery-ts-bench.log").open("wb")
    process = subprocess.Popen(
        ["node", str(MAIN)], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(f"http://127.0.0.1:{port}/health/ready"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the TypeScript delivery did not become ready (see {log.name})")
            time.sleep(0.2)
        yield Running(f"http://127.0.0.1:{port}/graphql", process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
