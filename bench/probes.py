"""What each scenario costs the machine: CPU seconds and peak RSS per process, and store commands.

Processes are found by the port they listen on (router, gateway, subgraphs,
stores), so the probe works whichever process manager started them.

Store commands come from the stores' and services' own counters:
- Redis: `INFO commandstats` of the redis-server (the delivery store and the
  event streams share it; the stream consumers' polling is left out);
- MongoDB: FerretDB does not report `serverStatus.opcounters`, so we read each
  Mongo service's `/metrics` counter `shopgraph_store_commands_total`, which
  counts every command its driver sends (pymongo command monitoring).
"""

import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import redis

# Redis commands that are not a query any request made: stream consumers
# blocking for events, claims of stale entries, and our own INFO.
REDIS_BACKGROUND_COMMANDS = frozenset(
    {
        "info",
        "ping",
        "hello",
        "select",
        "client",
        "client|setname",
        "client|setinfo",
        "xreadgroup",
        "xautoclaim",
        "xpending",
        "xclaim",
        "xgroup|create",
        "xinfo|groups",
        "config|get",
    }
)
# The delivery service labels its outbox relay's Redis round trips so (delivery/store.py).
RELAY_POLL_PREFIX = "redis:OUTBOX "
BACKGROUND_WINDOW_SECONDS = 3.0
METRIC_LINE = re.compile(r"^shopgraph_store_commands_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.eE+-]+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')


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


@dataclass
class ProcessUsage:
    pid: int
    cpu_seconds: float = 0.0
    peak_rss_mib: float = 0.0


def cpu_seconds(process: psutil.Process) -> float:
    """CPU of the process, its exited children, and its live children (PostgreSQL's
    connection backends; the stack's other processes have none)."""
    times = process.cpu_times()
    total = float(times.user + times.system + times.children_user + times.children_system)
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.Error:
            continue
        total += float(child_times.user + child_times.system)
    return total


class ProcessSampler:
    """CPU seconds and peak RSS of named processes between start() and stop(), sampled in a thread."""

    def __init__(self, pids: Mapping[str, int], interval: float = 0.2) -> None:
        self._interval = interval
        self._processes: dict[str, psutil.Process] = {}
        self._start_cpu: dict[str, float] = {}
        self._usage: dict[str, ProcessUsage] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        for name, pid in pids.items():
            self.add(name, pid)

    def add(self, name: str, pid: int) -> None:
        """Starts measuring a process (also after start(), e.g. the load generator)."""
        try:
            process = psutil.Process(pid)
            cpu = cpu_seconds(process)
        except psutil.Error:
            return  # already gone: nothing to measure
        with self._lock:
            self._processes[name] = process
            self._start_cpu[name] = cpu
            self._usage[name] = ProcessUsage(pid=pid)

    def start(self) -> None:
        with self._lock:
            for name, process in self._processes.items():
                try:
                    self._start_cpu[name] = cpu_seconds(process)
                except psutil.Error:
                    continue
        self._thread = threading.Thread(target=self._run, name="bench-process-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        with self._lock:
            for name, process in self._processes.items():
                usage = self._usage.get(name)
                if usage is None:
                    continue
                try:
                    with process.oneshot():
                        usage.peak_rss_mib = max(usage.peak_rss_mib, process.memory_info().rss / 2**20)
                        cpu = cpu_seconds(process)
                except psutil.Error:
                    continue  # exited: keep what was measured while it ran
                usage.cpu_seconds = cpu - self._start_cpu[name]

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def stop(self) -> dict[str, ProcessUsage]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sample()
        return dict(self._usage)


@contextmanager
def sampling(pids: Mapping[str, int]) -> Iterator[tuple[ProcessSampler, dict[str, ProcessUsage]]]:
    """`with sampling(pids) as (sampler, usage):` — `usage` is filled in when the block ends."""
    sampler = ProcessSampler(pids)
    usage: dict[str, ProcessUsage] = {}
    sampler.start()
    try:
        yield sampler, usage
    finally:
        usage.update(sampler.stop())


# --- store commands -----------------------------------------------------------


def parse_store_commands(metrics_text: str) -> dict[str, float]:
    """`{"mongodb:find": 12.0, ...}` from a Prometheus exposition."""
    counts: dict[str, float] = {}
    for line in metrics_text.splitlines():
        match = METRIC_LINE.match(line.strip())
        if match is None:
            continue
        labels = dict(LABEL.findall(match["labels"]))
        key = f"{labels.get('store', '?')}:{labels.get('command', '?')}"
        counts[key] = counts.get(key, 0.0) + float(match["value"])
    return counts


def redis_query_commands(commandstats: Mapping[str, Any]) -> dict[str, float]:
    """Calls per command from `INFO commandstats`, without the background commands."""
    counts: dict[str, float] = {}
    for key, stats in commandstats.items():
        command = key.removeprefix("cmdstat_").lower()
        if command in REDIS_BACKGROUND_COMMANDS or command.startswith("client|"):
            continue
        counts[command] = float(stats["calls"])
    return counts


def delta(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    return {key: after[key] - before.get(key, 0.0) for key in after if after[key] - before.get(key, 0.0) > 0}


@dataclass(frozen=True)
class CounterSnapshot:
    """Every store counter at one moment, by source ("orders", "redis", ...)."""

    by_source: dict[str, dict[str, float]]

    def minus(self, before: "CounterSnapshot") -> dict[str, dict[str, float]]:
        return {
            source: delta(counts, before.by_source.get(source, {}))
            for source, counts in self.by_source.items()
        }


class StoreCounters:
    """Reads the Mongo services' command counters and Redis' commandstats."""

    def __init__(self, service_urls: Mapping[str, str], redis_url: str) -> None:
        self._service_urls = dict(service_urls)
        self._http = httpx.Client(timeout=5.0)
        self._redis = redis.Redis.from_url(redis_url)

    def close(self) -> None:
        self._http.close()
        self._redis.close()

    def snapshot(self) -> CounterSnapshot:
        by_source: dict[str, dict[str, float]] = {}
        for name, base_url in self._service_urls.items():
            response = self._http.get(f"{base_url}/metrics")
            response.raise_for_status()
            by_source[name] = parse_store_commands(response.text)
        by_source["redis-server"] = redis_query_commands(self._redis.info("commandstats"))
        return CounterSnapshot(by_source)


@dataclass
class PerRequestCommands:
    """Store commands caused by one request, by store (see commands_per_request)."""

    samples: int
    seconds_per_request: float
    median: dict[str, float] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)
    background_per_second: dict[str, float] = field(default_factory=dict)
    corrected_mean: dict[str, float] = field(default_factory=dict)
    by_command: dict[str, dict[str, float]] = field(default_factory=dict)


def store_totals(deltas: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Per store: MongoDB commands by service, Redis commands (server) and delivery's Redis round trips.

    "all stores" adds the MongoDB commands and the Redis commands; the round
    trips are the same Redis work counted by the client (a pipeline is one).
    The delivery outbox relay's polls (`redis:OUTBOX ...`, one command each)
    are background work, not the request's: they are left out of both.
    """
    totals: dict[str, float] = {}
    relay_polls = 0.0
    for source, counts in sorted(deltas.items()):
        if source == "redis-server":
            continue
        mongo = sum(v for k, v in counts.items() if k.startswith("mongodb:"))
        polls = sum(v for k, v in counts.items() if k.startswith(RELAY_POLL_PREFIX))
        round_trips = sum(v for k, v in counts.items() if k.startswith("redis:")) - polls
        relay_polls += polls
        if mongo:
            totals[f"mongodb ({source})"] = mongo
        if round_trips:
            totals[f"redis round trips ({source})"] = round_trips
    redis_commands = max(sum(deltas.get("redis-server", {}).values()) - relay_polls, 0.0)
    totals["redis commands"] = redis_commands
    totals["all stores"] = redis_commands + sum(v for k, v in totals.items() if k.startswith("mongodb"))
    return totals


def background_rate(counters: StoreCounters, seconds: float) -> dict[str, float]:
    """Store commands per second with no request in flight (outbox relays, consumers), by store."""
    before = counters.snapshot()
    started = time.monotonic()
    time.sleep(seconds)
    totals = store_totals(counters.snapshot().minus(before))
    elapsed = time.monotonic() - started
    return {key: value / elapsed for key, value in totals.items()}


def commands_per_request(
    counters: StoreCounters, send: Callable[[], None], requests: int, max_seconds: float
) -> PerRequestCommands:
    """Sends requests one at a time (at most `requests`, `max_seconds`), reading every counter around each.

    The stack's background work (outbox relays polling their collections) lands
    in some of the windows. Two estimates of a request's own cost are kept: the
    median of the raw counts (exact when requests are short next to the relay's
    poll interval), and the mean minus the background rate measured just before
    times the request's duration.
    """
    background = background_rate(counters, BACKGROUND_WINDOW_SECONDS)
    per_request: list[dict[str, float]] = []
    durations: list[float] = []
    commands: dict[str, dict[str, float]] = {}
    deadline = time.monotonic() + max_seconds
    for _ in range(requests):
        if per_request and time.monotonic() > deadline:
            break
        before = counters.snapshot()
        started = time.monotonic()
        send()
        durations.append(time.monotonic() - started)
        deltas = counters.snapshot().minus(before)
        per_request.append(store_totals(deltas))
        for source, counts in deltas.items():
            for command, value in counts.items():
                commands.setdefault(source, {}).setdefault(command, 0.0)
                commands[source][command] += value
    keys = sorted({key for sample in per_request for key in sample} | set(background))
    result = PerRequestCommands(
        samples=len(per_request), seconds_per_request=round(statistics.fmean(durations), 3)
    )
    for key in keys:
        values = [sample.get(key, 0.0) for sample in per_request]
        result.median[key] = statistics.median(values)
        result.mean[key] = round(statistics.fmean(values), 2)
        result.background_per_second[key] = round(background.get(key, 0.0), 2)
        corrected = statistics.fmean(values) - background.get(key, 0.0) * result.seconds_per_request
        result.corrected_mean[key] = round(max(corrected, 0.0), 1)
    samples = max(len(per_request), 1)
    result.by_command = {
        source: {command: round(value / samples, 2) for command, value in sorted(counts.items())}
        for source, counts in commands.items()
    }
    return result
