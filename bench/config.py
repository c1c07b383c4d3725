"""Settings of a benchmark run, read from environment variables with local defaults.

The bench runs its own copy of the local stack (its own data directory and
port block), so it never touches a developer's `make up` data or ports, nor
the test stack of `make test`.
"""

import os
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
SUBGRAPHS = ("users", "orders", "payments", "delivery")
# Every scenario, in the order a run measures them (BENCH_SCENARIOS picks some).
SCENARIOS = (
    "storeProbe",
    "routerOverhead",
    "routerVsGateway",
    "deliveryImplementations",
    "costGrowth",
    "shoppers",
    "mixedTraffic",
    "signInUnderAttack",
)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Ports:
    """The bench stack's own port block (make up: 4000-4004, 6379, 27017/27018; tests: 14000-19080)."""

    router: int = 4200
    router_health: int = 8288
    router_metrics: int = 9280
    users: int = 4201
    orders: int = 4202
    payments: int = 4203
    delivery: int = 4204
    gateway: int = 4210
    gateway_health: int = 8298
    redis: int = 6579
    ferretdb: int = 27217
    postgresql: int = 27218

    def shifted(self, offset: int) -> "Ports":
        """The same block moved by `offset` (BENCH_PORT_OFFSET), so two bench stacks can run at once."""
        return Ports(**{name: port + offset for name, port in asdict(self).items()})


@dataclass(frozen=True)
class Plan:
    """The data set: customers, orders, and the few customers with many orders."""

    customers: int
    orders: int
    heavy_customers: int
    # Order details is measured once the data set has this many orders, then at `orders`.
    small_orders: int
    decline_every: int = 20  # every 20th order is first paid with a declined card

    @property
    def heavy_orders_each(self) -> int:
        return max(100, self.orders // 50)  # cost growth reads first: 100


@dataclass(frozen=True)
class Durations:
    """Seconds each measured run lasts."""

    overhead: int
    details: int
    growth: int
    mix_step: int
    mix_steps: int
    shoppers: int
    signin: int  # each of the two sign-in runs: legitimate alone, then under attack
    # The scratch collection of the store probe: measured at both sizes.
    probe_sizes: tuple[int, int]


@dataclass(frozen=True)
class Settings:
    stack_dir: Path
    ports: Ports
    plan: Plan
    durations: Durations
    quick: bool
    start_stack: bool
    keep_stack: bool
    results_dir: Path
    router_profile: str
    password_hash_profile: str
    mix_start_rate: float  # requests/s of the first mixed-traffic step
    shoppers: int
    external_mongodb_uri: str | None
    # "gateway": Apollo Gateway serves the router's port and there is no second
    # router to compare with (for working on the bench before the router is built).
    router: str = "router"
    # The scenarios to measure; fewer than all makes a partial run (`partial` below).
    scenarios: tuple[str, ...] = SCENARIOS

    @property
    def partial(self) -> bool:
        """A run of some scenarios only: its results go beside latest.*, never over them."""
        return self.scenarios != SCENARIOS

    @property
    def router_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.router}/"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}/"

    def subgraph_url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, name)}/graphql"

    def metrics_url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, name)}/metrics"

    @property
    def events_redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/0"

    @property
    def mongodb_uri(self) -> str:
        return self.external_mongodb_uri or f"mongodb://127.0.0.1:{self.ports.ferretdb}/"

    @property
    def ferretdb_postgresql_url(self) -> str | None:
        """The PostgreSQL behind the stack's FerretDB (None on an external MongoDB)."""
        if self.external_mongodb_uri:
            return None
        return f"postgresql://postgres@127.0.0.1:{self.ports.postgresql}/postgres"

    @property
    def store_ports(self) -> dict[str, int]:
        """The store processes of the bench stack to measure, by name."""
        ports = {"redis-server": self.ports.redis}
        if not self.external_mongodb_uri:
            ports.update(ferretdb=self.ports.ferretdb, postgresql=self.ports.postgresql)
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
        orders = int(env("BENCH_ORDERS", "500" if quick else "100000"))
        plan = Plan(
            customers=int(env("BENCH_CUSTOMERS", "100" if quick else "1000")),
            orders=orders,
            heavy_customers=2 if quick else 5,
            small_orders=min(100 if quick else 1000, orders),
        )
        durations = (
            Durations(
                overhead=5,
                details=5,
                growth=4,
                mix_step=10,
                mix_steps=1,
                shoppers=10,
                signin=6,
                probe_sizes=(1000, 10_000),
            )
            if quick
            else Durations(
                overhead=20,
                details=20,
                growth=15,
                mix_step=60,
                mix_steps=4,
                shoppers=60,
                signin=20,
                probe_sizes=(10_000, 100_000),
            )
        )
        external = env("BENCH_MONGODB_URI") or None
        # One data set per plan and store: a seed recorded for one says nothing of another.
        default_dir = f"var/bench-{orders}" + ("-mongodb" if external else "")
        stack_dir = Path(env("BENCH_STACK_DIR", default_dir))
        if not stack_dir.is_absolute():
            stack_dir = REPO_ROOT / stack_dir
        return cls(
            stack_dir=stack_dir,
            ports=Ports().shifted(int(env("BENCH_PORT_OFFSET", "0"))),
            plan=plan,
            durations=durations,
            quick=quick,
            start_stack=not _flag("BENCH_USE_RUNNING_STACK"),
            keep_stack=_flag("BENCH_KEEP_STACK"),
            results_dir=Path(env("BENCH_RESULTS_DIR", str(BENCH_DIR / "results"))),
            router_profile=env("BENCH_ROUTER_PROFILE", "prod"),
            password_hash_profile=env("BENCH_PASSWORD_HASH_PROFILE", "CHEAPEST"),
            mix_start_rate=float(env("BENCH_MIX_START_RATE", "10" if quick else "20")),
            shoppers=int(env("BENCH_SHOPPERS", "32")),
            external_mongodb_uri=external,
            router=env("BENCH_ROUTER", "router"),
            scenarios=chosen_scenarios(env("BENCH_SCENARIOS", "")),
        )

    def stack_env(self) -> dict[str, str]:
        """The variables scripts/stack.py reads (StackConfig.from_env), for the bench stack."""
        ports = self.ports
        return {
            "STACK_DIR": str(self.stack_dir),
            "ROUTER": self.router,
            "ROUTER_PROFILE": self.router_profile,
            "ROUTER_PORT": str(ports.router),
            "ROUTER_HEALTH_PORT": str(ports.router_health),
            "ROUTER_METRICS_PORT": str(ports.router_metrics),
            "GATEWAY_PORT": str(ports.gateway if self.router == "router" else ports.router),
            "GATEWAY_HEALTH_PORT": str(
                ports.gateway_health if self.router == "router" else ports.router_health
            ),
            "USERS_PORT": str(ports.users),
            "ORDERS_PORT": str(ports.orders),
            "PAYMENTS_PORT": str(ports.payments),
            "DELIVERY_PORT": str(ports.delivery),
            "REDIS_PORT": str(ports.redis),
            "FERRETDB_PORT": str(ports.ferretdb),
            "POSTGRESQL_PORT": str(ports.postgresql),
            # Seeding registers a thousand customers; at the production argon2
            # profile that alone takes minutes of CPU here. Sign-in is measured on
            # a users process of its own, hashing as production does (bench/signin.py).
            "PASSWORD_HASH_PROFILE": self.password_hash_profile,
            # Empty: the stack starts its embedded store (FerretDB on its PostgreSQL).
            "STACK_MONGODB_URI": self.external_mongodb_uri or "",
        }


def chosen_scenarios(names: str) -> tuple[str, ...]:
    """`BENCH_SCENARIOS` ("costGrowth,signInUnderAttack"; empty: all), in the order runs measure them."""
    chosen = {name.strip() for name in names.split(",") if name.strip()}
    unknown = sorted(chosen - set(SCENARIOS))
    if unknown:
        raise ValueError(f"BENCH_SCENARIOS: no scenario {unknown}; the scenarios are {', '.join(SCENARIOS)}")
    return tuple(name for name in SCENARIOS if name in chosen) if chosen else SCENARIOS
