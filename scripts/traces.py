"""The stack's traces in a terminal, from Jaeger's query API (`make traces`, TRACING=1).

    scripts/traces.py            the latest traces through orders: id, start, spans, services, root
    scripts/traces.py <trace id> that trace as a tree: each span's service, name and duration

The Jaeger built from the Go module proxy carries no UI (its web assets are
built separately), so this is the way to read a trace; the JSON itself is at
<jaeger>/api/traces/<trace id>.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from stack import StackConfig

LATEST = 20


def fetch(url: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = httpx.get(url, params=params, timeout=10.0)
    response.raise_for_status()
    traces: list[dict[str, Any]] = response.json()["data"] or []
    return traces


def services_of(trace: dict[str, Any]) -> dict[str, str]:
    return {key: process["serviceName"] for key, process in trace["processes"].items()}


def parent_of(span: dict[str, Any]) -> str | None:
    parents = [ref["spanID"] for ref in span.get("references", []) if ref["refType"] == "CHILD_OF"]
    return parents[0] if parents else None


def tree_lines(trace: dict[str, Any]) -> Iterator[str]:
    """One line per span, children under their parent in start order; orphans (a parent
    not received) start trees of their own."""
    services = services_of(trace)
    spans = sorted(trace["spans"], key=lambda span: span["startTime"])
    known = {span["spanID"] for span in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = parent_of(span)
        children.setdefault(parent if parent in known else None, []).append(span)
    start = spans[0]["startTime"] if spans else 0

    def walk(span: dict[str, Any], depth: int) -> Iterator[str]:
        offset_ms = (span["startTime"] - start) / 1000
        duration_ms = span["duration"] / 1000
        label = f"{'  ' * depth}{services[span['processID']]}: {span['operationName']}"
        yield f"{label:<72} +{offset_ms:9.1f} ms {duration_ms:9.1f} ms"
        for child in children.get(span["spanID"], []):
            yield from walk(child, depth + 1)

    for root in children.get(None, []):
        yield from walk(root, 0)


def latest_lines(traces: list[dict[str, Any]]) -> Iterator[str]:
    for trace in sorted(traces, key=lambda t: min(s["startTime"] for s in t["spans"]), reverse=True):
        spans = trace["spans"]
        root = min(spans, key=lambda span: span["startTime"])
        started = datetime.fromtimestamp(root["startTime"] / 1_000_000, UTC).strftime("%H:%M:%S")
        services = ",".join(sorted(set(services_of(trace).values())))
        yield f"{trace['traceID']}  {started}  {len(spans):4} spans  {services:<50} {root['operationName']}"


def main(argv: list[str]) -> int:
    config = StackConfig.from_env(os.environ)
    api = f"{config.jaeger_url}api/traces"
    try:
        if argv:
            traces = fetch(f"{api}/{argv[0]}")
            lines = [line for trace in traces for line in tree_lines(trace)]
        else:
            traces = fetch(api, {"service": "orders", "limit": str(LATEST), "lookback": "1h"})
            lines = list(latest_lines(traces))
    except httpx.HTTPError as error:
        print(f"error: no answer from Jaeger at {config.jaeger_url} ({error}): is it up (TRACING=1)?")
        return 1
    print("\n".join(lines) if lines else "no traces yet")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
