"""Real processes the suite runs: a redis-server of its own, the implementation under test, a router.

Each is started on a free loopback port with its output in a log file, and
stopped (SIGTERM, then SIGKILL) when its context ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def spawn(
    name: str, command: Sequence[str], *, log_dir: Path, env: Mapping[str, str] | None = None
) -> Process:
    """Starts `command` in its own process group (so stopping it stops its children: uv, npm)."""
    log = log_dir / f"{name}.log"
    with log.open("ab") as output:
        popen = subprocess.Popen(
            list(command),
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, popen, log)


def wait_until_ready(process: Process, url: str, timeout: float = 90.0) -> None:
    """Polls `url` until it answers 200; fails with the process's log if it dies or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(
                f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}"
            )
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} was not ready at {url} within {timeout:.0f}s:\n{process.log_tail()}")


@dataclass(frozen=True)
class RedisServer:
    port: int
    process: Process

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int) -> redis.Redis:
        return redis.Redis(port=self.port, db=db, decode_responses=True)


def start_redis(log_dir: Path, port: int | None = None) -> RedisServer:
    port = port or free_port()
    data_dir = log_dir / f"redis-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = spawn(f"redis-{port}", [*command, "--dir", str(data_dir)], log_dir=log_dir)
    server = RedisServer(port, process)
    deadline = time.monotonic() + 10
    while True:
        try:
            if server.client(0).ping():
                return server
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.popen.poll() is not None:
                raise RuntimeError(f"redis-server did not start:\n{process.log_tail()}") from None
            time.sleep(0.05)


@contextmanager
def running_redis(log_dir: Path) -> Iterator[RedisServer]:
    server = start_redis(log_dir)
    try:
        yield server
    finally:
        server.process.stop()
