"""Settings of a benchmark run, read from environment variables with local defaults.

The bench runs its own stack (its own data directory, and by default the
standard ports) so it never writes into a developer's `make up` data.
"""

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
STORES = ("ferretdb-postgresql", "ferretdb-sqlite", "external")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Ports:
    """The bench stack's own port block, so it can run beside a developer's `make up` stack."""

    router: int = 4200
    router_health: int = 8288
    router_metrics: int = 9280
    users: int = 4201
    orders: int = 4202
    payments: int = 4203
    delivery: int = 4204
    gateway: int = 4210
    gateway_health: int = 8298
    ferretdb: int = 27217  # the stack's own FerretDB (BENCH_STORE=ferretdb-sqlite)
    ferretdb_postgresql: int = 27317  # BENCH_STORE=ferretdb-postgresql: FerretDB ...
    postgresql: int = 27432  # ... and the PostgreSQL it stores into
    redis: int = 6579


@dataclass(frozen=True)
class Durations:
    """Seconds each measured phase runs (warm-ups are separate and short)."""

    warmup: int
    overhead: int
    details: int
    mix: int
    step: int
    max_steps: int
    growth_iterations: int
    growth: int  # at most this long for the iterations of one N
    probe_requests: int

    @classmethod
    def full(cls) -> "Durations":
        return cls(
            warmup=5,
            overhead=20,
            details=20,
            mix=60,
            step=15,
            max_steps=5,
            growth_iterations=200,
            growth=20,
            probe_requests=20,
        )

    @classmethod
    def quick(cls) -> "Durations":
        return cls(
            warmup=2,
            overhead=5,
            details=8,
            mix=60,
            step=8,
            max_steps=3,
            growth_iterations=40,
            growth=10,
            probe_requests=10,
        )


@dataclass(frozen=True)
class Settings:
    stack_dir: Path
    ports: Ports
    durations: Durations
    quick: bool
    details_vus: int
    mix_rate: float  # visits/s of the fixed-rate run
    mix_start_rate: float
    start_stack: bool
    keep_stack: bool
    results_dir: Path
    router_profile: str
    password_hash_profile: str
    seed_seconds: float
    # What the Mongo services store into: "ferretdb-postgresql" (started by the
    # bench), "ferretdb-sqlite" (the stack's own FerretDB, as in `make up`), or
    # "external" (BENCH_MONGODB_URI: a MongoDB of its own for the bench).
    store: str
    external_mongodb_uri: str | None

    @property
    def router_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.router}/"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}/"

    def subgraph_url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, name)}/graphql"

    def subgraph_base(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, name)}"

    @property
    def redis_url(self) -> str:
        """The events Redis (database 0), as scripts/stack.py configures it."""
        return f"redis://127.0.0.1:{self.ports.redis}/0"

    @property
    def delivery_redis_url(self) -> str:
        """The delivery service's store (database 1 of the same redis-server)."""
        return f"redis://127.0.0.1:{self.ports.redis}/1"

    @property
    def mongodb_uri(self) -> str:
        if self.external_mongodb_uri:
            return self.external_mongodb_uri
        if self.store == "ferretdb-postgresql":
            return f"mongodb://127.0.0.1:{self.ports.ferretdb_postgresql}/"
        return f"mongodb://127.0.0.1:{self.ports.ferretdb}/"

    @property
    def store_ports(self) -> dict[str, int]:
        """The store processes on this machine to measure, by name."""
        ports = {"redis-server": self.ports.redis}
        if self.store == "ferretdb-postgresql":
            ports.update(ferretdb=self.ports.ferretdb_postgresql, postgresql=self.ports.postgresql)
        elif self.store == "ferretdb-sqlite":
            ports["ferretdb"] = self.ports.ferretdb
        return ports

    @property
    def seed_file(self) -> Path:
        return self.stack_dir / "bench-seed.json"

    @property
    def work_dir(self) -> Path:
        return self.stack_dir / "bench-run"

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ.get
        quick = _flag("BENCH_QUICK")
        external = env("BENCH_MONGODB_URI") or None
        store = "external" if external else env("BENCH_STORE", "ferretdb-postgresql")
        if store not in STORES:
            raise SystemExit(f"BENCH_STORE must be one of {', '.join(STORES[:-1])}, not {store!r}")
        # One data set per store: a seed recorded for one store says nothing of another.
        default_dir = f"var/bench-{store}" + ("-quick" if quick else "")
        stack_dir = Path(env("BENCH_STACK_DIR", default_dir))
        if not stack_dir.is_absolute():
            stack_dir = REPO_ROOT / stack_dir
        return cls(
            stack_dir=stack_dir,
            ports=Ports(),
            durations=Durations.quick() if quick else Durations.full(),
            quick=quick,
            details_vus=int(env("BENCH_DETAILS_VUS", "8")),
            mix_rate=float(env("BENCH_MIX_RATE", "2")),
            mix_start_rate=float(env("BENCH_MIX_START_RATE", "2")),
            start_stack=not _flag("BENCH_USE_RUNNING_STACK"),
            keep_stack=_flag("BENCH_KEEP_STACK"),
            results_dir=Path(env("BENCH_RESULTS_DIR", str(BENCH_DIR / "results"))),
            router_profile=env("BENCH_ROUTER_PROFILE", "prod"),
            password_hash_profile=env("BENCH_PASSWORD_HASH_PROFILE", "CHEAPEST"),
            # Placing and paying stop here; deliveries get a bounded wait after it.
            seed_seconds=float(env("BENCH_SEED_SECONDS", "150" if quick else "360")),
            store=store,
            external_mongodb_uri=external,
        )

    def stack_env(self) -> dict[str, str]:
        """The variables scripts/stack.py reads (StackConfig.from_env), for the bench stack."""
        ports = self.ports
        return {
            "STACK_DIR": str(self.stack_dir),
            "ROUTER": "router",
            "ROUTER_PROFILE": self.router_profile,
            "ROUTER_PORT": str(ports.router),
            "ROUTER_HEALTH_PORT": str(ports.router_health),
            "ROUTER_METRICS_PORT": str(ports.router_metrics),
            "GATEWAY_PORT": str(ports.gateway),
            "GATEWAY_HEALTH_PORT": str(ports.gateway_health),
            "USERS_PORT": str(ports.users),
            "ORDERS_PORT": str(ports.orders),
            "PAYMENTS_PORT": str(ports.payments),
            "DELIVERY_PORT": str(ports.delivery),
            "REDIS_PORT": str(ports.redis),
            "FERRETDB_PORT": str(ports.ferretdb),
            # Seeding registers a thousand customers; at the production argon2
            # profile that alone takes minutes of CPU here. Sign-up and sign-in
            # are not among the measured operations.
            "PASSWORD_HASH_PROFILE": self.password_hash_profile,
            # The services' databases (users, orders, payments) are created there:
            # give the bench a MongoDB nobody else uses.
            "STACK_MONGODB_URI": "" if self.store == "ferretdb-sqlite" else self.mongodb_uri,
        }
