"""A small reader of Dockerfiles: stages and their instructions, for the static tests.

It understands what our Dockerfiles use (line continuations, comments, `--flag`
options, JSON exec form, `ENV KEY=VALUE ...`), not the whole Dockerfile grammar;
hadolint (a real parser) lints the files themselves.
"""

import json
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    flags: dict[str, str]
    args: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON array of a CMD/ENTRYPOINT/HEALTHCHECK CMD (after `CMD` for HEALTHCHECK)."""
        text = self.args.removeprefix("CMD").strip() if self.keyword == "HEALTHCHECK" else self.args
        parsed = json.loads(text)
        assert isinstance(parsed, list), f"line {self.line}: {self.keyword} is not in exec form"
        return [str(item) for item in parsed]

    def words(self) -> list[str]:
        return shlex.split(self.args)

    def env_pairs(self) -> dict[str, str]:
        """`ENV A=1 B="x y"` -> {"A": "1", "B": "x y"}."""
        pairs: dict[str, str] = {}
        for word in self.words():
            key, sep, value = word.partition("=")
            assert sep, f"line {self.line}: ENV uses the legacy `ENV KEY value` form"
            pairs[key] = value
        return pairs


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]

    def env(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for instruction in self.all("ENV"):
            merged.update(instruction.env_pairs())
        return merged


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Joins continuation lines and drops comments, keeping each instruction's first line number."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(pending)))
        pending = []
    assert not pending, "the Dockerfile ends inside a line continuation"
    return lines


def _split_flags(rest: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        key, _, value = token[2:].partition("=")
        flags[key] = value
        rest = rest.lstrip()
    return flags, rest


def parse(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    for line, text in _logical_lines(path.read_text()):
        keyword, _, rest = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            flags, rest = _split_flags(rest.strip())
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name, instructions=[]))
            continue
        assert stages, f"{path}:{line}: {keyword} before the first FROM"
        flags, args = _split_flags(rest.strip())
        stages[-1].instructions.append(Instruction(keyword, flags, args, line))
    return stages
