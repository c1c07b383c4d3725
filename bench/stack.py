"""The bench's own stack, driven through scripts/stack.py with the bench's settings."""

import os
import subprocess
from collections.abc import Callable

from bench.config import REPO_ROOT, Settings

# scripts/stack.py's Stack, for what its command line does not offer (stopping one program).
STACK_CALL = (
    "import os, sys; sys.path.insert(0, 'scripts'); import stack; "
    "getattr(stack.Stack(stack.StackConfig.from_env(os.environ)), sys.argv[1])(*sys.argv[2:])"
)


class BenchStack:
    def __init__(self, settings: Settings, log: Callable[[str], None]) -> None:
        self.settings = settings
        self.log = log

    def _run(self, *args: str) -> int:
        # scripts/stack.py runs in the root project's environment (it needs supervisor).
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.update(self.settings.stack_env())
        command = ["uv", "run", "--frozen", "--project", str(REPO_ROOT), "python", *args]
        return subprocess.run(command, cwd=REPO_ROOT, env=env, check=False).returncode

    def up(self) -> None:
        """Stores (Redis, PostgreSQL, FerretDB on it), subgraphs and the Apollo Router, health-gated."""
        self.log(f"==> bench stack up (data in {self.settings.stack_dir})")
        if self._run("scripts/stack.py", "up") != 0:
            raise SystemExit("the bench stack did not come up (see the error above)")

    def gateway_up(self) -> bool:
        """Apollo Gateway on its own port beside the router, on the same subgraphs."""
        self.log("==> Apollo Gateway up (for the router-vs-gateway scenario)")
        return self._run("scripts/stack.py", "restart", "gateway") == 0

    def stop(self, *programs: str) -> None:
        self.log(f"==> stopping {', '.join(programs)}")
        if self._run("-c", STACK_CALL, "stop", *programs) != 0:
            raise SystemExit(f"could not stop {', '.join(programs)}")

    def start(self, *programs: str) -> None:
        """Starts the programs and waits until each is healthy."""
        if self._run("-c", STACK_CALL, "start", *programs) != 0:
            raise SystemExit(f"{', '.join(programs)} did not come up (see the error above)")

    def down(self) -> None:
        self.log("==> bench stack down")
        self._run("scripts/stack.py", "down")
