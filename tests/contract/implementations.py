"""The implementations of the delivery service this suite knows how to start.

An implementation is a command. The suite runs it from the repository root
with the service's configuration in the environment, as every deployment
does (docs/architecture.md, "Configuration"): `HOST`, `PORT`, `REDIS_URL`
(its store), `EVENTS_REDIS_URL` (the event streams), `JWKS_URL` (the key
set tokens are verified against) and `ORDERS_URL` (the orders subgraph it
asks to ship an order: the suite's stand-in). Nothing else of the
implementation is used.

`CONTRACT_DELIVERY_IMPLEMENTATIONS` (comma-separated, default: every known
one) chooses which run; `CONTRACT_DELIVERY_COMMAND` adds one more, named
"custom", for an implementation this file does not list yet.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from contract.processes import REPO
from stack import DELIVERY_IMPLEMENTATIONS


@dataclass(frozen=True)
class Implementation:
    name: str
    command: tuple[str, ...]
    # A file that must exist before the command can run, and how to make it.
    built_file: Path | None = None
    build_hint: str = ""

    def check_built(self) -> None:
        if self.built_file is not None and not self.built_file.exists():
            raise RuntimeError(f"{self.name}: {self.built_file} is missing; {self.build_hint}")


# The repository's own implementations: the commands the local stack runs (scripts/stack.py).
KNOWN = {
    "python": Implementation("python", DELIVERY_IMPLEMENTATIONS["python"]),
    "ts": Implementation(
        "ts",
        DELIVERY_IMPLEMENTATIONS["ts"],
        built_file=REPO / DELIVERY_IMPLEMENTATIONS["ts"][1],
        build_hint="run `make deps` (npm ci and tsc in subgraphs/delivery-ts)",
    ),
}


def selected() -> list[Implementation]:
    names = os.environ.get("CONTRACT_DELIVERY_IMPLEMENTATIONS", ",".join(KNOWN)).split(",")
    unknown = [name for name in names if name and name not in KNOWN]
    if unknown:
        raise RuntimeError(f"unknown delivery implementation(s) {unknown}; known: {', '.join(KNOWN)}")
    chosen = [KNOWN[name] for name in names if name]
    custom = os.environ.get("CONTRACT_DELIVERY_COMMAND")
    if custom:
        chosen.append(Implementation("custom", tuple(shlex.split(custom))))
    return chosen
