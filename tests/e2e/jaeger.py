"""The test stack's Jaeger as the trace tests read it: one trace's spans, from its query API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class TraceSpan:
    span_id: str
    parent_id: str | None
    service: str
    name: str
    kind: str  # server, client, consumer, internal (Jaeger's span.kind tag)


def trace_spans(jaeger_url: str, trace_id: str) -> list[TraceSpan]:
    """The spans Jaeger holds of the trace (GET /api/traces/<id>); none while it knows of none."""
    response = httpx.get(f"{jaeger_url}api/traces/{trace_id}", timeout=10.0)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    traces: list[dict[str, Any]] = response.json()["data"] or []
    return [span for trace in traces for span in _spans_of(trace)]


def _spans_of(trace: dict[str, Any]) -> list[TraceSpan]:
    services = {key: process["serviceName"] for key, process in trace["processes"].items()}
    spans = []
    for span in trace["spans"]:
        parents = [ref["spanID"] for ref in span.get("references", []) if ref["refType"] == "CHILD_OF"]
        tags = {tag["key"]: tag["value"] for tag in span.get("tags", [])}
        spans.append(
            TraceSpan(
                span_id=span["spanID"],
                parent_id=parents[0] if parents else None,
                service=services[span["processID"]],
                name=span["operationName"],
                kind=str(tags.get("span.kind", "internal")),
            )
        )
    return spans
