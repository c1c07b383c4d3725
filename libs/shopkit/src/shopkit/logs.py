"""Log records as JSON lines, each with the trace it belongs to.

One object per line: `time`, `level`, `logger`, `message`, then `trace_id` and
`span_id` when the record was logged inside a traced request or event
(shopkit.tracing), and `exception` with its traceback. A trace id found in a
log line is the one `make traces id=<trace id>` shows.
"""

import json
import logging
from datetime import UTC, datetime

from opentelemetry import trace


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Formatted by the handler in the task that logged, so the current span is that task's.
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = f"{span.trace_id:032x}"
            line["span_id"] = f"{span.span_id:016x}"
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
