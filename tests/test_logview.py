"""scripts/logview.py: `make logs` shows JSON log lines as plain ones, and the rest as they are."""

import json

from logview import readable


def test_a_subgraph_line_is_plain_with_its_trace() -> None:
    line = json.dumps(
        {
            "time": "2026-12-02T04:45:48.658+00:00",
            "level": "ERROR",
            "logger": "shopkit.events.streams",
            "message": "handling payment.captured e1 failed (attempt 1); it stays pending",
            "trace_id": "0af7651916cd43dd8448eb211c80319c",
            "span_id": "b7ad6b7169203331",
            "exception": "Traceback (most recent call last):\nRuntimeError: not yet",
        }
    )
    assert readable(line) == (
        "2026-12-02T04:45:48.658+00:00 ERROR shopkit.events.streams: handling payment.captured e1 failed "
        "(attempt 1); it stays pending  [trace 0af7651916cd43dd8448eb211c80319c]\n"
        "Traceback (most recent call last):\nRuntimeError: not yet"
    )


def test_a_router_line_is_plain_too() -> None:
    line = json.dumps(
        {
            "timestamp": "2026-12-02T04:35:17Z",
            "level": "INFO",
            "message": "GraphQL endpoint exposed",
            "target": "x",
        }
    )
    assert readable(line) == "2026-12-02T04:35:17Z INFO x: GraphQL endpoint exposed"


def test_other_lines_pass_through() -> None:
    for line in (
        "==> var/stack/logs/redis.log <==",
        "1:M 02 Dec 2026 04:35:05.332 * Ready to accept",
        "[1, 2]",
    ):
        assert readable(line) == line
