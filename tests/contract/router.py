"""The Apollo Router (the pinned binary the stack runs) in front of the implementation under test.

It serves the supergraph composed with the implementation's own SDL (contract.composition).
Only delivery is reachable: the operations sent through it are the ones delivery answers
alone, so the router's query planning, header propagation and error handling are exercised
against this implementation and nothing else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from contract.processes import REPO, free_port, spawn, wait_until_ready

UNREACHABLE = "http://127.0.0.1:9/graphql"


def router_binary() -> Path:
    versions = (REPO / "scripts" / "versions.sh").read_text()
    version = re.search(r"^ROUTER_VERSION=(\S+)$", versions, re.MULTILINE)
    assert version, "scripts/versions.sh pins no ROUTER_VERSION"
    tools = Path(os.environ.get("SHOPGRAPH_TOOLS_DIR", Path.home() / ".local/share/shopgraph"))
    binary = Path(os.environ.get("ROUTER_BIN", tools / f"apollo-router-{version[1]}" / "bin" / "router"))
    if not binary.exists():
        raise RuntimeError(f"no Apollo Router at {binary}: run `make router` (or `make setup`)")
    return binary


@contextmanager
def running_router(supergraph: str, delivery_url: str, work_dir: Path) -> Iterator[str]:
    """Starts the router; yields its GraphQL URL."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port, health_port = free_port(), free_port()
    propagated = ["authorization", "traceparent", "tracestate"]
    config = {
        "supergraph": {"listen": f"127.0.0.1:{port}", "path": "/"},
        "health_check": {"listen": f"127.0.0.1:{health_port}", "path": "/health"},
        "homepage": {"enabled": False},
        "include_subgraph_errors": {"all": True},
        "override_subgraph_url": {
            "users": UNREACHABLE,
            "orders": UNREACHABLE,
            "payments": UNREACHABLE,
            "delivery": delivery_url,
        },
        "headers": {
            "all": {"request": {"operations": [{"propagate": {"named": name}} for name in propagated]}}
        },
    }
    (work_dir / "supergraph.graphql").write_text(supergraph)
    (work_dir / "router.yaml").write_text(yaml.safe_dump(config))
    command = [
        str(router_binary()),
        "--config",
        str(work_dir / "router.yaml"),
        "--supergraph",
        str(work_dir / "supergraph.graphql"),
        "--log",
        "warn",
    ]
    process = spawn("router", command, log_dir=work_dir, env={"APOLLO_TELEMETRY_DISABLED": "true"})
    try:
        wait_until_ready(process, f"http://127.0.0.1:{health_port}/health?ready")
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.stop()
