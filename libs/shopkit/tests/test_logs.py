"""shopkit.logs: one JSON object per line, with the trace of the work that logged it."""

import json
import logging
import sys

from opentelemetry.sdk.trace import TracerProvider

from shopkit.logs import JsonLines
from shopkit.tracing import context_from

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def record(message: str, *args: object, exc_info: bool = False) -> logging.LogRecord:
    return logging.LogRecord(
        "orders.events", logging.WARNING, __file__, 1, message, args, sys.exc_info() if exc_info else None
    )


def test_a_record_outside_any_span_has_no_trace() -> None:
    line = json.loads(JsonLines().format(record("outbox relay to %s paused", "shopgraph.events.orders")))
    assert line.keys() == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"]) == ("WARNING", "orders.events")
    assert line["message"] == "outbox relay to shopgraph.events.orders paused"


def test_a_record_inside_a_span_names_its_trace_and_span() -> None:
    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("test")
    parent = context_from(f"00-{TRACE_ID}-b7ad6b7169203331-01")
    with tracer.start_as_current_span("handle order.placed", context=parent) as span:
        try:
            raise RuntimeError("not yet")
        except RuntimeError:
            formatted = JsonLines().format(record("handling failed", exc_info=True))
    line = json.loads(formatted)
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert "RuntimeError: not yet" in line["exception"]
    assert "\n" not in formatted  # one line, however long the traceback
