"""What a run costs the machine and the stores.

- CPU seconds and peak RSS of every process of the stack (found by the port it
  listens on) and of the load generator, sampled every 0.2 s;
- store-layer calls and store commands per service, from each subgraph's
  `/metrics`: `shopgraph_store_calls_total{call}` (a DataLoader batch is one
  call) and `shopgraph_store_commands_total{store,command}` (on FerretDB a
  batch of N keys is N indexed lookups).
"""

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import psutil

METRIC_LINE = re.compile(
    r"^(?P<name>shopgraph_store_(?:calls|commands)_total)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$"
)
LABEL = re.compile(r'(\w+)="([^"]*)"')
# The delivery service labels its outbox relay's Redis round trips so: background, not the request's.
RELAY_POLL_PREFIX = "OUTBOX "


def listening_pids(ports: Mapping[str, int]) -> dict[str, int]:
    """The pid listening on each named port (names whose port nobody listens on are left out)."""
    wanted = {port: name for name, port in ports.items()}
    found: dict[str, int] = {}
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status != psutil.CONN_LISTEN or connection.pid is None or len(connection.laddr) < 2:
            continue
        name = wanted.get(connection.laddr[1])
        if name is not None:
            found[name] = connection.pid
    return found


def cpu_seconds(process: psutil.Process) -> float:
    """CPU of the process, its exited children and its live children (PostgreSQL serves each
    connection from a child process; `uv run` starts each subgraph as a child)."""
    times = process.cpu_times()
    total = float(times.user + times.system + times.children_user + times.children_system)
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.Error:
            continue
        total += float(child_times.user + child_times.system)
    return total


@dataclass
class Usage:
    cpu_seconds: float = 0.0
    peak_rss_mib: float = 0.0


class ProcessSampler:
    """CPU seconds (children included) and peak RSS (of the process itself: PostgreSQL's
    backends share its buffers) of named processes while it runs, sampled in a thread."""

    def __init__(self, pids: Mapping[str, int], interval: float = 0.2) -> None:
        self._interval = interval
        self._processes: dict[str, psutil.Process] = {}
        self._start_cpu: dict[str, float] = {}
        self.usage: dict[str, Usage] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        for name, pid in pids.items():
            self.add(name, pid)

    def add(self, name: str, pid: int) -> None:
        """Starts measuring a process (also while running: the load generator)."""
        try:
            process = psutil.Process(pid)
            cpu = cpu_seconds(process)
        except psutil.Error:
            return
        with self._lock:
            self._processes[name] = process
            self._start_cpu[name] = cpu
            self.usage[name] = Usage()

    def _sample(self) -> None:
        with self._lock:
            for name, process in self._processes.items():
                try:
                    with process.oneshot():
                        rss = process.memory_info().rss / 2**20
                        cpu = cpu_seconds(process)
                except psutil.Error:
                    continue  # exited: keep what was measured while it ran
                usage = self.usage[name]
                usage.peak_rss_mib = max(usage.peak_rss_mib, rss)
                usage.cpu_seconds = cpu - self._start_cpu[name]

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> "ProcessSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()

    def record(self) -> dict[str, dict[str, float]]:
        return {
            name: {"cpuSeconds": round(u.cpu_seconds, 2), "peakRssMiB": round(u.peak_rss_mib, 1)}
            for name, u in sorted(self.usage.items())
        }


# --- store calls and commands ----------------------------------------------------


def parse_store_metrics(text: str) -> dict[str, float]:
    """`{"calls:OrderStore.orders_by_id": 3.0, "commands:mongodb:find": 12.0, ...}` from /metrics."""
    counts: dict[str, float] = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line.strip())
        if match is None:
            continue
        labels = dict(LABEL.findall(match["labels"]))
        if match["name"] == "shopgraph_store_calls_total":
            key = f"calls:{labels.get('call', '?')}"
        else:
            command = labels.get("command", "?")
            if command.startswith(RELAY_POLL_PREFIX):
                continue
            key = f"commands:{labels.get('store', '?')}:{command}"
        counts[key] = counts.get(key, 0.0) + float(match["value"])
    return counts


def per_request(
    before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]], requests: int
) -> dict[str, Any]:
    """Store calls and commands per request, by service and in all, between two snapshots."""
    by_service: dict[str, dict[str, float]] = {}
    calls = commands = 0.0
    for service, counts in after.items():
        moved = {k: v - before.get(service, {}).get(k, 0.0) for k, v in counts.items()}
        service_calls = sum(v for k, v in moved.items() if k.startswith("calls:"))
        service_commands = sum(v for k, v in moved.items() if k.startswith("commands:"))
        by_service[service] = {
            "calls": round(service_calls / max(requests, 1), 2),
            "commands": round(service_commands / max(requests, 1), 2),
        }
        calls += service_calls
        commands += service_commands
    return {
        "storeCallsPerRequest": round(calls / max(requests, 1), 2),
        "storeCommandsPerRequest": round(commands / max(requests, 1), 2),
        "byService": by_service,
    }


class StoreMetrics:
    def __init__(self, urls: Mapping[str, str]) -> None:
        self._urls = dict(urls)

    def snapshot(self) -> dict[str, dict[str, float]]:
        with httpx.Client(timeout=5.0) as http:
            return {name: parse_store_metrics(http.get(url).text) for name, url in self._urls.items()}
