"""The TypeScript delivery (subgraphs/delivery-ts) beside the bench stack's Python one, on the same
Redis and JWKS, for the side-by-side scenario. It is not in the stack: it answers only what the
scenario sends it directly."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.config import REPO_ROOT, Settings
from bench.side_process import free_port, wait_until_ready

MAIN = REPO_ROOT / "subgraphs" / "delivery-ts" / "dist" / "src" / "main.js"
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Running:
    url: str
    pid: int


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
        wait_until_ready(
            process, port, timeout=READY_TIMEOUT_S, what=f"the TypeScript delivery (see {log.name})"
        )
        yield Running(f"http://127.0.0.1:{port}/graphql", process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
