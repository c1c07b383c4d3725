"""Composing the implementation's served SDL with the other subgraphs' committed SDLs.

The composition is the project's own (`router/compose.mjs`, `@apollo/composition`
pinned in router/package.json), run on a copy of supergraph.yaml in which
delivery's schema file is the SDL the implementation serves at `_service { sdl }`.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from contract.processes import REPO

SERVICE = "delivery"


@dataclass(frozen=True)
class Composed:
    sdl: str
    supergraph: str
    api_schema: str
    output: str


def diff(committed: str, composed: str) -> str:
    lines = difflib.unified_diff(
        committed.splitlines(), composed.splitlines(), "committed", "composed", lineterm=""
    )
    return "\n".join(lines)


def compose_with(sdl: str, work_dir: Path) -> Composed:
    """Composes in `work_dir` (a supergraph.yaml and a router/ of its own); fails with compose's output."""
    work_dir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "supergraph.yaml").read_text())
    for name, subgraph in config["subgraphs"].items():
        subgraph["schema"]["file"] = str(REPO / subgraph["schema"]["file"])
        if name == SERVICE:
            served = work_dir / f"{SERVICE}.graphql"
            served.write_text(sdl)
            subgraph["schema"]["file"] = str(served)
    (work_dir / "router").mkdir(parents=True, exist_ok=True)
    # compose.mjs compares against the baseline next to its output and refuses a breaking change.
    shutil.copy(REPO / "router" / "api-schema.graphql", work_dir / "router" / "api-schema.graphql")
    config_file = work_dir / "supergraph.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run(
        ["node", str(REPO / "router" / "compose.mjs"), "--config", str(config_file)],
        capture_output=True,
        text=True,
        cwd=work_dir,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"composition with the served SDL failed:\n{output}"
    return Composed(
        sdl=sdl,
        supergraph=(work_dir / "router" / "supergraph.graphql").read_text(),
        api_schema=(work_dir / "router" / "api-schema.graphql").read_text(),
        output=output,
    )
