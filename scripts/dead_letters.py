"""Dead letters: list them per stream and group, and replay them after a fix.

    scripts/dead_letters.py list
    scripts/dead_letters.py replay <stream> <group> <entry id> | --all

A consumer sets aside, in `<stream>.dead.<group>`, an event it could not
handle after all its retries (shopkit.events.streams). `replay` appends the
original event to `<stream>` again and deletes it from the dead letters: every
group of the stream reads it again, and since handlers are idempotent by event
id, only the group that had failed it applies it. REDIS_URL (the events Redis,
default redis://127.0.0.1:6379/0) says where; the test stack's is on port 16379.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import redis

DEAD_MARK = ".dead."
EVENT_FIELD = "event"
OUTBOX_GROUP = "outbox"


@dataclass(frozen=True)
class DeadLetter:
    stream: str
    group: str
    entry_id: str
    fields: dict[str, str]

    @property
    def dead_stream(self) -> str:
        return f"{self.stream}{DEAD_MARK}{self.group}"

    def describe(self) -> str:
        reason = self.fields.get("reason", "?")
        attempts = self.fields.get("attempts", "-")
        try:
            event = json.loads(self.fields[EVENT_FIELD])
            what = f"{event.get('type')} {event.get('id')}"
        except (KeyError, ValueError, AttributeError):
            what = "(not an event)"
        return f"  {self.entry_id}  {what}  attempts={attempts}  reason={reason}"


def dead_streams(client: redis.Redis) -> list[str]:
    names = cast(list[str], client.keys(f"*{DEAD_MARK}*"))
    return sorted(name for name in names if client.type(name) == "stream")


def dead_letters(client: redis.Redis, dead_stream: str) -> Iterator[DeadLetter]:
    stream, _, group = dead_stream.rpartition(DEAD_MARK)
    entries = cast(list[tuple[str, dict[str, str]]], client.xrange(dead_stream))
    for entry_id, fields in entries:
        yield DeadLetter(stream=stream, group=group, entry_id=entry_id, fields=fields)


def replay(client: redis.Redis, letter: DeadLetter) -> str:
    """Appends the dead letter's event to its source stream; returns the new entry id."""
    if letter.group == OUTBOX_GROUP or EVENT_FIELD not in letter.fields:
        raise ValueError(f"{letter.entry_id} in {letter.dead_stream} is not an event; it cannot be replayed")
    with client.pipeline(transaction=True) as pipe:
        pipe.xadd(letter.stream, {EVENT_FIELD: letter.fields[EVENT_FIELD]})
        pipe.xdel(letter.dead_stream, letter.entry_id)
        new_id, _ = pipe.execute()
    return str(new_id)


def main(argv: list[str]) -> int:
    usage = "usage: dead_letters.py list | replay <stream> <group> <entry id>|--all"
    client = redis.Redis.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True
    )
    if argv == ["list"]:
        streams = dead_streams(client)
        if not streams:
            print("no dead letters")
        for dead_stream in streams:
            letters = list(dead_letters(client, dead_stream))
            stream, _, group = dead_stream.rpartition(DEAD_MARK)
            print(f"{stream} (group {group}): {len(letters)}")
            for letter in letters:
                print(letter.describe())
        return 0
    if len(argv) == 4 and argv[0] == "replay":
        stream, group, which = argv[1:]
        letters = list(dead_letters(client, f"{stream}{DEAD_MARK}{group}"))
        chosen = letters if which == "--all" else [letter for letter in letters if letter.entry_id == which]
        if not chosen:
            print(f"no dead letter {which} in {stream}{DEAD_MARK}{group}", file=sys.stderr)
            return 1
        for letter in chosen:
            print(f"replayed {letter.entry_id} as {replay(client, letter)} on {stream}")
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
