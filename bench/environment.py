"""The exact versions under test and the machine they ran on."""

import json
import os
import platform
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from bench.config import REPO_ROOT

# Libraries whose version changes what a subgraph costs.
PYTHON_LIBRARIES = (
    "strawberry-graphql",
    "starlette",
    "uvicorn",
    "pymongo",
    "redis",
    "graphql-core",
    "httptools",
)
SUBGRAPHS = ("users", "orders", "payments", "delivery")


def _command_output(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unavailable ({error})"
    text = (completed.stdout or completed.stderr).strip()
    return text.splitlines()[0] if text else "unavailable"


def locked_versions(lock_file: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Versions of `names` pinned in a uv.lock."""
    if not lock_file.exists():
        return {}
    packages = tomllib.loads(lock_file.read_text()).get("package", [])
    return {p["name"]: p["version"] for p in packages if p.get("name") in names and "version" in p}


def node_package_version(package: str) -> str:
    manifest = REPO_ROOT / "router" / "node_modules" / package / "package.json"
    if not manifest.exists():
        return "not installed"
    version: str = json.loads(manifest.read_text())["version"]
    return version


def machine() -> dict[str, Any]:
    cpu_model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    load = os.getloadavg()
    return {
        "nproc": os.cpu_count(),
        "cpuModel": cpu_model,
        "memoryGiB": round(memory_kib / 2**20, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "loadAverageAtStart": [round(value, 2) for value in load],
    }


def store(kind: str, mongodb_uri: str) -> dict[str, Any]:
    """What the Mongo services stored into, as the server itself reports it."""
    described: dict[str, Any] = {"kind": kind}
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri, serverSelectionTimeoutMS=3000)
        with client:
            info = client.admin.command("buildInfo")
        described["mongodbVersion"] = info.get("version")
        if "ferretdbVersion" in info:
            described["ferretdbVersion"] = info["ferretdbVersion"]
    except PyMongoError as error:
        described["error"] = str(error)
    if kind == "ferretdb-postgresql":
        described["postgresql"] = _command_output([_postgres_binary(), "--version"])
    return described


def _postgres_binary() -> str:
    bindir = _command_output(["pg_config", "--bindir"])
    return str(Path(bindir) / "postgres")


def versions(binaries: dict[str, Path], k6_version: str) -> dict[str, Any]:
    subgraph_libraries = {
        name: locked_versions(REPO_ROOT / "subgraphs" / name / "uv.lock", PYTHON_LIBRARIES)
        for name in SUBGRAPHS
    }
    return {
        "apolloRouter": _command_output([str(binaries["router"]), "--version"]),
        "apolloGateway": node_package_version("@apollo/gateway"),
        "apolloServer": node_package_version("@apollo/server"),
        "node": _command_output(["node", "--version"]),
        "ferretdb": _command_output([str(binaries["ferretdb"]), "--version"]),
        "redis": _command_output(["redis-server", "--version"]),
        "k6": k6_version,
        "python": platform.python_version(),
        "subgraphLibraries": subgraph_libraries,
    }
