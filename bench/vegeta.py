"""Fixed-rate HTTP load with vegeta, and every response read back and checked.

Each request is a vegeta JSON target (its own body and headers). Its index
rides in the URL (`?r=<index>`, ignored by the servers), so each result
decoded by `vegeta encode --to json` is matched to the request that caused it
and checked by that request's own check: HTTP 200, a JSON body without
`errors`, and the shape the request asked for. A request may name error codes
that are the answer it expects (an attacker's sign-in: `RATE_LIMITED`,
`UNAUTHENTICATED`); every result is also counted by its outcome (`ok`, the
first error's code, or the HTTP status).
"""

import base64
import json
import math
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Returns what is wrong with a response's `data`, or None when it is right.
Check = Callable[[dict[str, Any]], str | None]
MAX_ERROR_SAMPLES = 5
REQUEST_TIMEOUT = "10s"
TIMESTAMP = re.compile(r"(?P<head>[^.]+?)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)")


@dataclass(frozen=True)
class Request:
    url: str
    query: str
    variables: dict[str, Any]
    check: Check
    operation: str
    token: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Error codes that are a right answer to this request (an attack refused), not a failure.
    refusals: frozenset[str] = frozenset()

    def target(self, index: int) -> dict[str, Any]:
        body = json.dumps({"query": self.query, "variables": self.variables}).encode()
        headers = {"Content-Type": ["application/json"], **{k: [v] for k, v in self.headers.items()}}
        if self.token:
            headers["Authorization"] = [f"Bearer {self.token}"]
        separator = "&" if "?" in self.url else "?"
        return {
            "method": "POST",
            "url": f"{self.url}{separator}r={index}",
            "body": base64.b64encode(body).decode(),
            "header": headers,
        }


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Summary:
    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, latency_ms: float, problem: str | None, outcome: str | None = None) -> None:
        self.requests += 1
        self.latencies_ms.append(latency_ms)
        if outcome is not None:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if problem is not None:
            self.errors += 1
            if len(self.error_samples) < MAX_ERROR_SAMPLES:
                self.error_samples.append(problem[:300])

    def record(self, seconds: float) -> dict[str, Any]:
        lat = self.latencies_ms
        outcomes = {"outcomes": dict(sorted(self.outcomes.items()))} if self.outcomes else {}
        return {
            "requests": self.requests,
            "requestsPerSecond": round(self.requests / seconds, 2) if seconds > 0 else 0.0,
            "errors": self.errors,
            "latencyMs": {
                "p50": round(percentile(lat, 0.50), 2),
                "p95": round(percentile(lat, 0.95), 2),
                "p99": round(percentile(lat, 0.99), 2),
                "max": round(max(lat, default=0.0), 2),
            },
            "errorSamples": self.error_samples,
            **outcomes,
        }


def error_codes(payload: Mapping[str, Any]) -> list[str]:
    """The `extensions.code` of each GraphQL error of a response (`?` for an error without one)."""
    return [str((e.get("extensions") or {}).get("code", "?")) for e in payload.get("errors") or []]


def outcome_of(code: int, error: str, body: bytes) -> str:
    """`ok`, the first GraphQL error's code, or what else came back (`timeout`: vegeta gave up)."""
    if code == 0:
        return "timeout" if "Timeout" in error or "deadline exceeded" in error else "no answer"
    if code != 200:
        return f"HTTP {code}"
    try:
        payload = json.loads(body)
    except ValueError:
        return "not JSON"
    codes = error_codes(payload) if isinstance(payload, dict) else ["not an object"]
    return codes[0] if codes else "ok"


def problem_with(
    code: int, error: str, body: bytes, check: Check, refusals: frozenset[str] = frozenset()
) -> str | None:
    """What is wrong with one response, or None."""
    if code != 200:
        return f"HTTP {code} {error} {body[:200]!r}"
    try:
        payload = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}"
    if payload.get("errors"):
        if refusals and set(error_codes(payload)) <= refusals:
            return None
        return f"errors: {json.dumps(payload['errors'])[:300]}"
    data = payload.get("data")
    if not isinstance(data, dict):
        return "no data"
    return check(data)


def read_results(
    lines: Sequence[str], requests: Sequence[Request]
) -> tuple[Summary, dict[str, Summary], float]:
    """Checks every result line; returns the whole, per operation, and the span in seconds."""
    total = Summary()
    by_operation: dict[str, Summary] = {}
    first = last = 0.0
    for line in lines:
        if not line.strip():
            continue
        result = json.loads(line)
        index = int(parse_qs(urlsplit(result["url"]).query)["r"][0])
        request = requests[index % len(requests)]
        body = base64.b64decode(result.get("body") or "")
        code = int(result["code"])
        error = result.get("error", "")
        problem = problem_with(code, error, body, request.check, request.refusals)
        outcome = outcome_of(code, error, body)
        latency_ms = result["latency"] / 1e6
        total.add(latency_ms, problem, outcome)
        by_operation.setdefault(request.operation, Summary()).add(latency_ms, problem, outcome)
        started = _timestamp(result["timestamp"])
        first = started if first == 0.0 else min(first, started)
        last = max(last, started + latency_ms / 1000)
    return total, by_operation, last - first


def _timestamp(text: str) -> float:
    """Seconds of an RFC 3339 timestamp with up to nanoseconds (as vegeta writes them)."""
    match = TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError(f"not a vegeta timestamp: {text!r}")
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    fraction = float(f"0.{match['fraction'] or 0}")
    return datetime.fromisoformat(match["head"] + zone).timestamp() + fraction


class Vegeta:
    def __init__(self, binary: Path, work_dir: Path) -> None:
        self.binary = binary
        self.work_dir = work_dir

    def attack(
        self,
        label: str,
        requests: Sequence[Request],
        *,
        rate: float,
        seconds: float,
        workers: int,
        on_start: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Sends `requests` in order at `rate` per second (0: as fast as `workers` allow) for `seconds`.

        Past the end of `requests` vegeta starts over; callers pass enough for
        the run, so that no two identical requests are in flight together.
        """
        self.work_dir.mkdir(parents=True, exist_ok=True)
        targets = self.work_dir / f"{label}.targets.jsonl"
        results = self.work_dir / f"{label}.results.bin"
        targets.write_text("".join(json.dumps(r.target(i)) + "\n" for i, r in enumerate(requests)))
        rate_arg = "0" if rate == 0 else f"{round(rate * 60)}/1m"
        command = [
            str(self.binary), "attack", "-format=json", f"-targets={targets}", f"-rate={rate_arg}",
            f"-duration={seconds}s", f"-max-workers={workers}", f"-workers={min(workers, 4)}",
            f"-timeout={REQUEST_TIMEOUT}", f"-output={results}", f"-name={label}",
        ]  # fmt: skip
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        if on_start is not None:
            on_start(process.pid)
        _, stderr = process.communicate(timeout=seconds + 60)
        if process.returncode != 0:
            raise RuntimeError(f"vegeta attack {label} failed ({process.returncode}): {stderr[:500]}")
        encoded = subprocess.run(
            [str(self.binary), "encode", "--to", "json", str(results)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        total, by_operation, span = read_results(encoded.stdout.splitlines(), requests)
        record = total.record(span)
        record["label"] = label
        record["rate"] = rate
        record["seconds"] = round(span, 2)
        record["byOperation"] = {name: s.record(span) for name, s in sorted(by_operation.items())}
        return record
