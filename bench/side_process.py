"""Services a scenario runs beside the bench stack (the TypeScript delivery, the sign-in users):
a free port to serve on, and waiting until one answers its readiness check."""

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(process: subprocess.Popen[bytes], port: int, *, timeout: float, what: str) -> None:
    """Returns once `process` answers GET /health/ready on `port`; raises if it exits or is
    not ready within `timeout` seconds (`what` names it, and where its log is)."""
    deadline = time.monotonic() + timeout
    while not _ready(f"http://127.0.0.1:{port}/health/ready"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready")
        time.sleep(0.2)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
