"""The bench's own stack, driven through scripts/stack.py with the bench's settings."""

import os
import subprocess
from collections.abc import Callable

from bench.config import REPO_ROOT, Settings


class BenchStack:
    def __init__(self, settings: Settings, log: Callable[[str], None]) -> None:
        self.settings = settings
        self.log = log

    def _stack(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        # scripts/stack.py runs in the root project's environment (it needs supervisor).
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.update(self.settings.stack_env())
        command = ["uv", "run", "--frozen", "--project", str(REPO_ROOT), "python", "scripts/stack.py", *args]
        return subprocess.run(command, cwd=REPO_ROOT, env=env, check=False)

    def _ferretdb_postgresql(self, command: str) -> int:
        settings = self.settings
        env = {
            **os.environ,
            "BENCH_FERRETDB_PORT": str(settings.ports.ferretdb_postgresql),
            "BENCH_POSTGRES_PORT": str(settings.ports.postgresql),
        }
        script = str(REPO_ROOT / "bench/ferretdb-postgresql.sh")
        data = str(settings.stack_dir / "ferretdb-postgresql")
        return subprocess.run(["bash", script, command, data], env=env, check=False).returncode

    def up(self) -> None:
        """Stores, subgraphs and the Apollo Router, each health-gated."""
        self.log(f"==> bench stack up (data in {self.settings.stack_dir}, store: {self.settings.store})")
        if self.settings.store == "ferretdb-postgresql" and self._ferretdb_postgresql("start") != 0:
            raise SystemExit("FerretDB on PostgreSQL did not come up (see the error above)")
        if self._stack("up").returncode != 0:
            raise SystemExit("the bench stack did not come up (see the error above)")

    def gateway_up(self) -> bool:
        """Apollo Gateway on its own port beside the router, on the same subgraphs."""
        self.log("==> Apollo Gateway up (for the router-vs-gateway scenario)")
        return self._stack("restart", "gateway").returncode == 0

    def down(self) -> None:
        self.log("==> bench stack down")
        self._stack("down")
        if self.settings.store == "ferretdb-postgresql":
            self._ferretdb_postgresql("stop")
