"""The stack's Jaeger configuration, made from the stack's ports (scripts/stack.py writes it).

Jaeger v2 is an OpenTelemetry Collector: OTLP in (gRPC from the Apollo Router,
HTTP from the subgraphs), kept in memory, served by its query API. Its own
metrics are off, so it opens no port but these. The file lives in
<stack dir>/jaeger/.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

# Traces kept in memory; the oldest go first. A restart of Jaeger forgets them all.
MAX_TRACES = 100_000
STORAGE = "memory"


@dataclass(frozen=True)
class JaegerPorts:
    query: int  # the query API (/api/traces) and the UI's address
    query_grpc: int
    otlp_grpc: int
    otlp_http: int


def jaeger_config(ports: JaegerPorts) -> str:
    """Jaeger's configuration: every port on 127.0.0.1, traces in memory."""

    def local(port: int) -> dict[str, str]:
        return {"endpoint": f"127.0.0.1:{port}"}

    config = {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {
                "resource": {"service.name": "jaeger"},
                "metrics": {"level": "none"},
                "logs": {"level": "info"},
            },
        },
        "extensions": {
            "jaeger_storage": {"backends": {STORAGE: {"memory": {"max_traces": MAX_TRACES}}}},
            "jaeger_query": {
                "storage": {"traces": STORAGE},
                "http": local(ports.query),
                "grpc": local(ports.query_grpc),
            },
        },
        "receivers": {
            "otlp": {"protocols": {"grpc": local(ports.otlp_grpc), "http": local(ports.otlp_http)}},
        },
        "processors": {"batch": {"timeout": "500ms"}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORAGE}},
    }
    header = "# Written by scripts/stack.py (scripts/jaeger.py) from the stack's ports; do not edit.\n"
    return header + yaml.safe_dump(config, sort_keys=False)
