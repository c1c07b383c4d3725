"""The local stack: stores, subgraphs and router as processes under supervisord.

    scripts/stack.py up | down | status | restart <program> | logs [program]

`up` starts supervisord (stack/supervisord.conf) if it is not running, then the
programs in dependency order, each gated on its health: the stores (Redis, then
the embedded MongoDB store: PostgreSQL, then FerretDB on it; their ports), users
(/health/ready; the others verify tokens against its JWKS), orders, payments and
delivery, then the router (its health check and a real
`{ __typename }` query), then, in the development profile, the explorer
(GraphiQL for the graph, querying the router), and with MONITORING=1 Prometheus
(scripts/monitoring.py writes its configuration). With TRACING=1 Jaeger starts
right after the stores (scripts/jaeger.py writes its configuration) and every
subgraph and the Apollo Router export their spans to it. Running it twice is harmless. Data lives in
$STACK_DIR (default var/stack) and survives `down`/`up`.

Everything is configured from the environment (see StackConfig); the e2e tests
start a second stack with other ports and another STACK_DIR through the same
class (tests/conftest.py).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from supervisor.xmlrpc import SupervisorTransport

from jaeger import JaegerPorts, jaeger_config
from logview import follow
from monitoring import DASHBOARD_LIBRARY, ScrapeTarget, prometheus_config

REPO_ROOT = Path(__file__).resolve().parent.parent
SUPERVISORD_CONF = REPO_ROOT / "stack" / "supervisord.conf"
TOOLS_DIR = Path(os.environ.get("SHOPGRAPH_TOOLS_DIR", Path.home() / ".local/share/shopgraph"))

STORES = ("redis", "postgresql", "ferretdb")
SUBGRAPHS = ("users", "orders", "payments", "delivery")
# Delivery (on Redis) may run as a second process beside the first; the services on
# the embedded MongoDB store may not (docs/architecture.md#the-embedded-store).
DELIVERY_SECOND = "delivery2"
# The implementations of the delivery service (docs/polyglot.md), chosen by DELIVERY_IMPL
# (DELIVERY2_IMPL for the second process): the same contract on the same data.
DELIVERY_IMPLEMENTATIONS = {
    "python": ("uv", "run", "--frozen", "--project", "subgraphs/delivery", "python", "-m", "delivery"),
    "ts": ("node", "subgraphs/delivery-ts/dist/src/main.js"),
}
ROUTERS = ("router", "gateway")
# GraphiQL for the composed graph, querying the router; development profile only.
EXPLORER = "explorer"
# Scrapes the router and every subgraph process, evaluates monitoring/rules.yml; MONITORING=1 only.
PROMETHEUS = "prometheus"
# Receives every process's spans and answers for traces; TRACING=1 only.
JAEGER = "jaeger"
PROGRAMS = (*STORES, JAEGER, *SUBGRAPHS, DELIVERY_SECOND, *ROUTERS, EXPLORER, PROMETHEUS)

READY_TIMEOUT_S = 180.0
POLL_INTERVAL_S = 0.2


def _read_versions() -> dict[str, str]:
    """The pinned versions from scripts/versions.sh (simple NAME=value lines)."""
    versions: dict[str, str] = {}
    for line in (REPO_ROOT / "scripts" / "versions.sh").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.isidentifier() and name.isupper() and "$" not in value:
            versions[name] = value.strip()
    return versions


VERSIONS = _read_versions()
ROUTER_BIN = Path(
    os.environ.get("ROUTER_BIN", TOOLS_DIR / f"apollo-router-{VERSIONS['ROUTER_VERSION']}/bin/router")
)
FERRETDB_BIN = Path(
    os.environ.get("FERRETDB_BIN", TOOLS_DIR / f"ferretdb-{VERSIONS['FERRETDB_VERSION']}/bin/ferretdb")
)
JAEGER_BIN = Path(os.environ.get("JAEGER_BIN", TOOLS_DIR / f"jaeger-{VERSIONS['JAEGER_VERSION']}/bin/jaeger"))


class StackError(RuntimeError):
    """Something the user must fix; the message says what."""


@dataclass(frozen=True)
class StackConfig:
    stack_dir: Path
    router: str  # "router" (Apollo Router) or "gateway" (Apollo Gateway)
    profile: str  # "dev" or "prod": which router configuration
    ports: Mapping[str, int]
    admin_email: str
    admin_password: str
    # Routers started by `up`. The dev stack runs one on the router port; the test
    # stack runs both on their own ports.
    routers: tuple[str, ...] = field(default=())
    # STACK_MONGODB_URI: the services use this MongoDB and no embedded store is started.
    external_mongodb_uri: str | None = None
    # DELIVERY_PROCESSES=2: a second delivery process (DELIVERY2_PORT) shares its Redis,
    # its consumer group and its outbox with the first; Apollo Gateway queries it.
    delivery_processes: int = 1
    # DELIVERY_IMPL / DELIVERY2_IMPL: which implementation each delivery process runs.
    delivery_impl: str = "python"
    delivery2_impl: str = "python"
    # MONITORING=1: Prometheus (PROMETHEUS_PORT) scrapes and evaluates every MONITORING_INTERVAL seconds.
    monitoring: bool = False
    monitoring_interval_s: int = 5
    # TRACING=1: Jaeger (JAEGER_PORT) receives the spans of every subgraph and the Apollo Router.
    tracing: bool = False

    def processes(self, service: str) -> tuple[str, ...]:
        """The programs that run the service."""
        if service == "delivery" and self.delivery_processes == 2:
            return ("delivery", DELIVERY_SECOND)
        return (service,)

    def serving(self, service: str, router: str) -> str:
        """The program of the service that this router sends its requests to."""
        programs = self.processes(service)
        return programs[-1] if router == "gateway" else programs[0]

    @property
    def subgraph_programs(self) -> tuple[str, ...]:
        return tuple(program for service in SUBGRAPHS for program in self.processes(service))

    @property
    def stores(self) -> tuple[str, ...]:
        """The store programs `up` starts, in the order they need each other."""
        return ("redis",) if self.external_mongodb_uri else STORES

    @property
    def mongodb_uri(self) -> str:
        return self.external_mongodb_uri or f"mongodb://127.0.0.1:{self.ports['ferretdb']}/"

    @property
    def ferretdb_postgresql_url(self) -> str:
        """The PostgreSQL behind the embedded FerretDB ("" on an external MongoDB)."""
        if self.external_mongodb_uri:
            return ""
        return f"postgresql://postgres@127.0.0.1:{self.ports['postgresql']}/postgres"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StackConfig:
        router = env.get("ROUTER", "router")
        if router not in ROUTERS:
            raise StackError(f"ROUTER must be one of {', '.join(ROUTERS)}, not {router!r}")
        profile = env.get("ROUTER_PROFILE", "dev")
        if profile not in ("dev", "prod"):
            raise StackError(f"ROUTER_PROFILE must be dev or prod, not {profile!r}")
        delivery_processes = env.get("DELIVERY_PROCESSES", "1")
        if delivery_processes not in ("1", "2"):
            raise StackError(f"DELIVERY_PROCESSES must be 1 or 2, not {delivery_processes!r}")
        monitoring = env.get("MONITORING", "0")
        if monitoring not in ("0", "1"):
            raise StackError(f"MONITORING must be 0 or 1, not {monitoring!r}")
        tracing = env.get("TRACING", "0")
        if tracing not in ("0", "1"):
            raise StackError(f"TRACING must be 0 or 1, not {tracing!r}")
        delivery_impl = env.get("DELIVERY_IMPL", "python")
        delivery2_impl = env.get("DELIVERY2_IMPL", delivery_impl)
        for variable, impl in (("DELIVERY_IMPL", delivery_impl), ("DELIVERY2_IMPL", delivery2_impl)):
            if impl not in DELIVERY_IMPLEMENTATIONS:
                raise StackError(
                    f"{variable} must be one of {', '.join(DELIVERY_IMPLEMENTATIONS)}, not {impl!r}"
                )
        router_port = int(env.get("ROUTER_PORT", "4000"))
        router_health_port = int(env.get("ROUTER_HEALTH_PORT", "8088"))
        ports = {
            "router": router_port,
            "router_health": router_health_port,
            "router_metrics": int(env.get("ROUTER_METRICS_PORT", "9080")),
            "gateway": int(env.get("GATEWAY_PORT", str(router_port))),
            "gateway_health": int(env.get("GATEWAY_HEALTH_PORT", str(router_health_port))),
            "users": int(env.get("USERS_PORT", "4001")),
            "orders": int(env.get("ORDERS_PORT", "4002")),
            "payments": int(env.get("PAYMENTS_PORT", "4003")),
            "delivery": int(env.get("DELIVERY_PORT", "4004")),
            DELIVERY_SECOND: int(env.get("DELIVERY2_PORT", "4005")),
            EXPLORER: int(env.get("EXPLORER_PORT", "4080")),
            # Not 9090: Debian's package may run a system Prometheus there.
            PROMETHEUS: int(env.get("PROMETHEUS_PORT", "9190")),
            # Jaeger's query API; its gRPC twin; the OTLP receivers (gRPC: the router; HTTP: the subgraphs).
            JAEGER: int(env.get("JAEGER_PORT", "16686")),
            "jaeger_grpc": int(env.get("JAEGER_GRPC_PORT", "16685")),
            "jaeger_otlp_grpc": int(env.get("JAEGER_OTLP_GRPC_PORT", "4317")),
            "jaeger_otlp_http": int(env.get("JAEGER_OTLP_HTTP_PORT", "4318")),
            "redis": int(env.get("REDIS_PORT", "6379")),
            "ferretdb": int(env.get("FERRETDB_PORT", "27017")),
            "postgresql": int(env.get("POSTGRESQL_PORT", "27018")),
        }
        return cls(
            stack_dir=(REPO_ROOT / env.get("STACK_DIR", "var/stack")).resolve(),
            router=router,
            profile=profile,
            ports=ports,
            admin_email=env.get("ADMIN_EMAIL", "admin@shopgraph.local"),
            admin_password=env.get("ADMIN_PASSWORD", "admin-password-change-me"),
            routers=(router,),
            external_mongodb_uri=env.get("STACK_MONGODB_URI") or None,
            delivery_processes=int(delivery_processes),
            delivery_impl=delivery_impl,
            delivery2_impl=delivery2_impl,
            monitoring=monitoring == "1",
            monitoring_interval_s=int(env.get("MONITORING_INTERVAL", "5")),
            tracing=tracing == "1",
        )

    def url(self, program: str) -> str:
        """The GraphQL URL of a subgraph or router."""
        if program in ROUTERS:
            return f"http://127.0.0.1:{self.ports[program]}/"
        return f"http://127.0.0.1:{self.ports[program]}/graphql"

    @property
    def explorer_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[EXPLORER]}/"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[PROMETHEUS]}/"

    @property
    def dashboard_url(self) -> str:
        """The dashboard (monitoring/dashboard), served by Prometheus as its user assets."""
        return f"{self.prometheus_url}user/index.html"

    @property
    def prometheus_config_file(self) -> Path:
        return self.stack_dir / "prometheus" / "prometheus.yml"

    @property
    def jaeger_url(self) -> str:
        """Jaeger's query API: /api/traces/<trace id>, /api/services."""
        return f"http://127.0.0.1:{self.ports[JAEGER]}/"

    @property
    def jaeger_ports(self) -> JaegerPorts:
        ports = self.ports
        return JaegerPorts(
            query=ports[JAEGER],
            query_grpc=ports["jaeger_grpc"],
            otlp_grpc=ports["jaeger_otlp_grpc"],
            otlp_http=ports["jaeger_otlp_http"],
        )

    @property
    def jaeger_config_file(self) -> Path:
        return self.stack_dir / "jaeger" / "config.yaml"

    def tracing_env(self) -> dict[str, str]:
        """Where the subgraphs (OTLP/HTTP; none: no tracing) and the Apollo Router (OTLP/gRPC,
        read by router.yaml) send their spans, and whether the router records any."""
        return {
            "TRACING_ENDPOINT": f"http://127.0.0.1:{self.ports['jaeger_otlp_http']}" if self.tracing else "",
            "ROUTER_TRACE_SAMPLER": "always_on" if self.tracing else "always_off",
            "ROUTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self.ports['jaeger_otlp_grpc']}",
        }

    def scrape_targets(self) -> list[ScrapeTarget]:
        """The Apollo Router's metrics (Apollo Gateway has none) and every subgraph process's."""
        router = ScrapeTarget("router", self.ports["router_metrics"], {"process": "router"})
        targets = [router] if "router" in self.routers else []
        for service in SUBGRAPHS:
            for program in self.processes(service):
                labels = {"service": service, "process": program}
                targets.append(ScrapeTarget("subgraphs", self.ports[program], labels))
        return targets

    @property
    def explorer_graph_url(self) -> str:
        """The router the explorer queries: the first one `up` starts."""
        return self.url((*self.routers, self.router)[0])

    def health_url(self, program: str) -> str:
        if program in ROUTERS:
            return f"http://127.0.0.1:{self.ports[program + '_health']}/health"
        return f"http://127.0.0.1:{self.ports[program]}/health/ready"

    def log_file(self, program: str) -> Path:
        return self.stack_dir / "logs" / f"{program}.log"

    def supervisord_env(self) -> dict[str, str]:
        """The environment supervisord expands stack/supervisord.conf with."""
        ports = self.ports
        redis = f"redis://127.0.0.1:{ports['redis']}"
        # The root venv's variables would make `uv run --project subgraphs/...` complain.
        inherited = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        router_config = "router/router.dev.yaml" if self.profile == "dev" else "router/router.yaml"
        return {
            **inherited,
            "REPO_ROOT": str(REPO_ROOT),
            "STACK_DIR": str(self.stack_dir),
            "ROUTER_BIN": str(ROUTER_BIN),
            "FERRETDB_BIN": str(FERRETDB_BIN),
            "JAEGER_BIN": str(JAEGER_BIN),
            "ROUTER_CONFIG": router_config,
            "ROUTER_PROFILE": self.profile,
            **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
            "MONGODB_URI": self.mongodb_uri,
            "FERRETDB_POSTGRESQL_URL": self.ferretdb_postgresql_url,
            "EVENTS_REDIS_URL": f"{redis}/0",
            "DELIVERY_REDIS_URL": f"{redis}/1",
            "GATEWAY_DELIVERY_URL": self.url(self.serving("delivery", "gateway")),
            "DELIVERY_COMMAND": shlex.join(DELIVERY_IMPLEMENTATIONS[self.delivery_impl]),
            "DELIVERY2_COMMAND": shlex.join(DELIVERY_IMPLEMENTATIONS[self.delivery2_impl]),
            "GRAPH_URL": self.explorer_graph_url,
            "JWKS_URL": f"http://127.0.0.1:{ports['users']}/.well-known/jwks.json",
            "ORDERS_URL": f"http://127.0.0.1:{ports['orders']}/graphql",
            "ADMIN_EMAIL": self.admin_email,
            "ADMIN_PASSWORD": self.admin_password,
            **self.tracing_env(),
        }


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _postgresql_installed() -> bool:
    return shutil.which("pg_config") is not None or any(Path("/usr/lib/postgresql").glob("*/bin/postgres"))


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _answers_graphql(url: str) -> bool:
    try:
        response = httpx.post(url, json={"query": "{ __typename }"}, timeout=5.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("data") == {"__typename": "Query"}


class Stack:
    """Starts, stops and watches the stack's programs through supervisord's XML-RPC API."""

    def __init__(self, config: StackConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.log = log
        self._socket = config.stack_dir / "supervisor.sock"

    # ---- supervisord -----------------------------------------------------

    def _rpc(self) -> xmlrpc.client.ServerProxy:
        transport = SupervisorTransport(None, None, serverurl=f"unix://{self._socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def _process_info(self, program: str) -> dict[str, Any]:
        info: dict[str, Any] = self._rpc().supervisor.getProcessInfo(program)  # type: ignore[assignment]
        return info

    def supervisord_running(self) -> bool:
        if not self._socket.exists():
            return False
        try:
            state: dict[str, Any] = self._rpc().supervisor.getState()  # type: ignore[assignment]
            return bool(state["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Error):
            return False

    def _env_file(self) -> Path:
        return self.config.stack_dir / "supervisord.env"

    def _env_signature(self) -> str:
        env = self.config.supervisord_env()
        keys = sorted(k for k in env if k in self._conf_variables())
        return "\n".join(f"{k}={env[k]}" for k in keys) + "\n"

    @staticmethod
    def _conf_variables() -> set[str]:
        text = SUPERVISORD_CONF.read_text()
        return {part.split(")s", 1)[0] for part in text.split("%(ENV_")[1:]}

    def settings_changes(self) -> list[str]:
        """The names of the settings whose values differ from the running supervisord's."""
        running = self._env_file().read_text().splitlines() if self._env_file().exists() else []
        changed = set(self._env_signature().splitlines()) ^ set(running)
        return sorted({line.partition("=")[0] for line in changed})

    def start_supervisord(self) -> None:
        """Starts supervisord; one running with other settings is restarted with these (the whole stack)."""
        if self.supervisord_running():
            changes = self.settings_changes()
            if not changes:
                return
            self.log(f"==> stack settings changed ({', '.join(changes)}): restarting the whole stack")
            self.shutdown()
        signature = self._env_signature()
        for folder in ("logs", "redis", "ferretdb", "keys"):
            (self.config.stack_dir / folder).mkdir(parents=True, exist_ok=True)
        supervisord = Path(sys.executable).parent / "supervisord"
        subprocess.run(
            [str(supervisord), "-c", str(SUPERVISORD_CONF)],
            env=self.config.supervisord_env(),
            cwd=REPO_ROOT,
            check=True,
        )
        self._wait("supervisord", self.supervisord_running, program=None)
        self._env_file().write_text(signature)

    def shutdown(self) -> None:
        """Stops every program and supervisord itself."""
        if self.supervisord_running():
            # A supervisord started from an older stack/supervisord.conf may lack a program.
            infos: list[dict[str, Any]] = self._rpc().supervisor.getAllProcessInfo()  # type: ignore[assignment]
            known = {info["name"] for info in infos}
            self.stop(*(program for program in reversed(PROGRAMS) if program in known))
            self._rpc().supervisor.shutdown()
        # Also ends a supervisord that lost its socket (its pid file tells); it stops its programs.
        pid = self._supervisord_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            self._wait("supervisord to exit", lambda: self._supervisord_pid() is None, program=None)

    def _supervisord_pid(self) -> int | None:
        """The pid of this stack's live supervisord, if any."""
        try:
            pid = int((self.config.stack_dir / "supervisord.pid").read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    # ---- programs ---------------------------------------------------------

    def state(self, program: str) -> str:
        return str(self._process_info(program)["statename"])

    def pid(self, program: str) -> int:
        return int(self._process_info(program)["pid"])

    def start(self, *programs: str) -> None:
        """Starts the programs (those running or restarting are left alone); waits until each is healthy."""
        for program in programs:
            if self.state(program) not in ("RUNNING", "STARTING", "BACKOFF"):
                self._check_ports_free(program)
                self.log(f"==> starting {program}")
                try:
                    self._rpc().supervisor.startProcess(program, False)
                except xmlrpc.client.Fault as fault:
                    # supervisord's autorestart got there first (a crashed program): fine.
                    if "ALREADY_STARTED" not in fault.faultString:
                        raise
        for program in programs:
            self.wait_healthy(program)

    def _ports(self, program: str) -> list[str]:
        """The names (keys of config.ports) of the ports the program listens on."""
        if program == JAEGER:
            return [JAEGER, "jaeger_grpc", "jaeger_otlp_grpc", "jaeger_otlp_http"]
        return [program, f"{program}_health"] if program in ROUTERS else [program]

    def _check_ports_free(self, program: str) -> None:
        for name in self._ports(program):
            port = self.config.ports[name]
            if _port_open(port):
                variable = f"{name.upper()}_PORT"
                raise StackError(
                    f"port {port}, which {program} needs, is taken by another process "
                    f"(another stack, or a system service): stop it, or set {variable}."
                )

    def _wait_ports_closed(self, program: str) -> None:
        # supervisord reports a program gone when its own child exited; a grandchild
        # (the service under `uv run`) may still be exiting and holding its port.
        ports = [self.config.ports[name] for name in self._ports(program)]
        self._wait(f"{program} to release its ports", lambda: not any(map(_port_open, ports)), None)

    def stop(self, *programs: str) -> None:
        for program in programs:
            if self.state(program) in ("RUNNING", "STARTING", "BACKOFF"):
                self.log(f"==> stopping {program}")
                self._rpc().supervisor.stopProcess(program, True)
                self._wait_ports_closed(program)

    def kill(self, program: str) -> None:
        """SIGKILLs the program's whole process group (a crash, not a shutdown) and waits until it is gone.

        supervisord then starts it again (autorestart), as after any crash.
        """
        group = self.pid(program)
        os.killpg(group, signal.SIGKILL)
        self._wait(f"{program} to die", lambda: not _group_alive(group), None)

        # ... and until supervisord has noticed (a new pid, or not running), so what
        # follows never acts on the dead process's state.
        def noticed() -> bool:
            return self.pid(program) != group or self.state(program) != "RUNNING"

        self._wait(f"supervisord to notice {program} died", noticed, None)

    def restart(self, program: str) -> None:
        self.stop(program)
        self.start(program)

    def restart_alone(self, program: str) -> None:
        """Restarts one program and touches nothing else; refuses if the stack runs with other settings."""
        if not self.supervisord_running():
            raise StackError("the stack is not running: start it with `make up`.")
        changes = self.settings_changes()
        if changes:
            raise StackError(
                f"the stack runs with other settings than these ({', '.join(changes)}): restarting "
                f"{program} alone would mix them. Run the same command with the settings `make up` had, "
                "or apply these to the whole stack with `make up`."
            )
        self.restart(program)

    def healthy(self, program: str) -> bool:
        if program in STORES:
            return _port_open(self.config.ports[program])
        if program in self.config.subgraph_programs:
            return _http_ok(self.config.health_url(program))
        if program == EXPLORER:
            return _http_ok(self.config.explorer_url + "health")
        if program == PROMETHEUS:
            return _http_ok(self.config.prometheus_url + "-/ready")
        if program == JAEGER:
            return _http_ok(self.config.jaeger_url + "api/services")
        return _http_ok(self.config.health_url(program)) and _answers_graphql(self.config.url(program))

    def wait_healthy(self, program: str) -> None:
        self._wait(f"{program} to be healthy", lambda: self.healthy(program), program)

    def _wait(self, what: str, condition: Callable[[], bool], program: str | None) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not condition():
            if program is not None and self.state(program) in ("EXITED", "FATAL", "STOPPED"):
                raise StackError(f"{program} exited while starting.\n{self.log_tail(program)}")
            if time.monotonic() > deadline:
                tail = self.log_tail(program) if program else ""
                raise StackError(f"timed out after {READY_TIMEOUT_S:.0f}s waiting for {what}.\n{tail}")
            time.sleep(POLL_INTERVAL_S)

    def log_tail(self, program: str, lines: int = 30) -> str:
        path = self.config.log_file(program)
        if not path.exists():
            return f"(no log at {path})"
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- last lines of {path} ---\n" + "\n".join(tail)

    # ---- the whole stack --------------------------------------------------

    def check_prerequisites(self) -> None:
        missing = []
        if "ferretdb" in self.config.stores and not FERRETDB_BIN.exists():
            missing.append(f"FerretDB ({FERRETDB_BIN})")
        if "postgresql" in self.config.stores and not _postgresql_installed():
            missing.append("PostgreSQL (Debian's postgresql)")
        if "router" in self.config.routers and not ROUTER_BIN.exists():
            missing.append(f"the Apollo Router ({ROUTER_BIN})")
        if "gateway" in self.config.routers and not (REPO_ROOT / "router/node_modules").exists():
            missing.append("router/node_modules (npm ci)")
        if self.config.monitoring and shutil.which("prometheus") is None:
            missing.append("Prometheus (Debian's prometheus)")
        if self.config.monitoring and not DASHBOARD_LIBRARY.exists():
            missing.append("monitoring/dashboard/node_modules (npm ci)")
        if self.config.tracing and not JAEGER_BIN.exists():
            missing.append(f"Jaeger ({JAEGER_BIN})")
        implementations = {self.config.delivery_impl, self.config.delivery2_impl}
        if "ts" in implementations and not (REPO_ROOT / DELIVERY_IMPLEMENTATIONS["ts"][1]).exists():
            raise StackError("DELIVERY_IMPL=ts needs the compiled TypeScript delivery: run `make deps`.")
        if not (REPO_ROOT / "router/supergraph.graphql").exists():
            raise StackError("router/supergraph.graphql is missing: run `make compose`.")
        if missing:
            raise StackError(f"missing {', '.join(missing)}: run `make setup`.")

    def up(self) -> None:
        self.check_prerequisites()
        self.start_supervisord()
        # Only one router implementation may hold a shared port.
        for other in ROUTERS:
            if other not in self.config.routers:
                self.stop(other)
        for store in self.config.stores:
            self.start(store)
        # Before the services, so their first spans have somewhere to go.
        if self.config.tracing:
            self.start_tracing()
        else:
            self.stop(JAEGER)
        self.start("users")
        self.start("orders", "payments", *self.config.processes("delivery"))
        self.start(*self.config.routers)
        # Its documentation explorer needs introspection, which only the development profile answers.
        if self.config.profile == "dev":
            self.start(EXPLORER)
        if self.config.monitoring:
            self.start_monitoring()
        else:
            self.stop(PROMETHEUS)

    def start_monitoring(self) -> None:
        """Writes Prometheus' configuration from the stack's ports and starts it (again, if it changed)."""
        config_file = self.config.prometheus_config_file
        wanted = prometheus_config(self.config.scrape_targets(), self.config.monitoring_interval_s)
        if not config_file.exists() or config_file.read_text() != wanted:
            config_file.parent.mkdir(parents=True, exist_ok=True)
            config_file.write_text(wanted)
            self.stop(PROMETHEUS)
        self.start(PROMETHEUS)

    def start_tracing(self) -> None:
        """Writes Jaeger's configuration from the stack's ports and starts it (again, if it changed)."""
        config_file = self.config.jaeger_config_file
        wanted = jaeger_config(self.config.jaeger_ports)
        if not config_file.exists() or config_file.read_text() != wanted:
            config_file.parent.mkdir(parents=True, exist_ok=True)
            config_file.write_text(wanted)
            self.stop(JAEGER)
        self.start(JAEGER)

    def down(self) -> None:
        if not self.supervisord_running():
            self.log("stack is not running")
            return
        self.shutdown()
        self.log(f"stack stopped; data kept in {self.config.stack_dir}")

    def status_lines(self) -> Iterable[str]:
        if not self.supervisord_running():
            yield "stack is down (make up)"
            return
        infos: list[dict[str, Any]] = self._rpc().supervisor.getAllProcessInfo()  # type: ignore[assignment]
        for info in infos:
            yield f"{info['name']:<10} {info['statename']:<9} {info['description']}"

    def urls(self) -> list[str]:
        config = self.config
        lines = []
        for router in config.routers:
            name = "Apollo Router" if router == "router" else "Apollo Gateway"
            lines.append(f"{name:<15} {config.url(router)}   (health {config.health_url(router)})")
        if "router" in config.routers:
            lines.append(f"{'router metrics':<15} http://127.0.0.1:{config.ports['router_metrics']}/metrics")
        if config.profile == "dev":
            lines.append(f"{'explorer':<15} {config.explorer_url}   (GraphiQL for the graph)")
        for subgraph in config.subgraph_programs:
            lines.append(f"{subgraph:<15} {config.url(subgraph)}   (GraphiQL: open it in a browser)")
        if config.monitoring:
            lines.append(f"{'dashboard':<15} {config.dashboard_url}")
            lines.append(f"{'Prometheus':<15} {config.prometheus_url}alerts   (rules: monitoring/rules.yml)")
        if config.tracing:
            lines.append(f"{'traces':<15} {config.jaeger_url}api/services   (Jaeger's query API)")
        if config.external_mongodb_uri:
            lines.append(f"{'MongoDB':<15} {config.external_mongodb_uri}   (STACK_MONGODB_URI)")
        else:
            lines.append(
                f"{'MongoDB':<15} {config.mongodb_uri}   (FerretDB on {config.ferretdb_postgresql_url})"
            )
        lines.append(f"{'data and logs':<15} {config.stack_dir}")
        return lines


def main(argv: list[str]) -> int:
    usage = "usage: stack.py up | down | status | restart <program> | logs [program]"
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    stack = Stack(StackConfig.from_env(os.environ))
    try:
        if command == "up":
            stack.up()
            print("\nshopgraph is up:")
            print("\n".join(f"  {line}" for line in stack.urls()))
        elif command == "down":
            stack.down()
        elif command == "status":
            print("\n".join(stack.status_lines()))
        elif command == "restart" and len(args) == 1 and args[0] in PROGRAMS:
            stack.restart_alone(args[0])
        elif command == "logs":
            names = args or [p for p in PROGRAMS if stack.config.log_file(p).exists()]
            return follow([str(stack.config.log_file(name)) for name in names])
        else:
            print(usage, file=sys.stderr)
            return 2
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
