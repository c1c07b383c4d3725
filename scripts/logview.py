"""Follows log files readably (`make logs`): a JSON log line becomes one plain line.

The subgraphs (shopkit.logs) and the Apollo Router write JSON lines; each is
shown as `time level logger: message [trace <id>]`, with an exception's
traceback under it. Other lines (the stores', tail's own headers) pass through.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from typing import Any


def readable(line: str) -> str:
    try:
        record: Any = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    time = str(record.get("time") or record.get("timestamp") or "")
    source = record.get("logger") or record.get("target") or ""
    text = f"{time} {record.get('level', '')} {source}: {record['message']}"
    if record.get("trace_id"):
        text += f"  [trace {record['trace_id']}]"
    if record.get("exception"):
        text += "\n" + str(record["exception"])
    return text


def readable_lines(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        yield readable(line.rstrip("\n"))


def follow(files: list[str]) -> int:
    """Prints the last 40 lines of each file, then every line appended, until interrupted."""
    with subprocess.Popen(["tail", "-n", "40", "-F", *files], stdout=subprocess.PIPE, text=True) as tail:
        assert tail.stdout is not None
        try:
            for line in readable_lines(tail.stdout):
                print(line, flush=True)
        except KeyboardInterrupt:
            tail.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(follow(sys.argv[1:]))
