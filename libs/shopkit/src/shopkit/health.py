"""Liveness and readiness endpoints.

`/health/live` answers as long as the process serves HTTP. `/health/ready`
answers 200 only when every store the service needs responds, so orchestrators
(supervisor scripts, Docker healthchecks, the router's health gating) can wait
for it. The same checks are reported on /metrics when it is scraped
(`shopgraph_ready`, `shopgraph_readiness_check`), so Prometheus sees what
/health/ready would answer.
"""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shopkit.metrics import PROBES, Reading

ReadinessCheck = Callable[[], Awaitable[bool]]
LIVE_PATH = "/health/live"
READY_PATH = "/health/ready"


async def run_checks(checks: dict[str, ReadinessCheck]) -> dict[str, bool]:
    return {name: await check() for name, check in checks.items()}


def readiness_readings(results: dict[str, bool]) -> list[Reading]:
    return [
        Reading("shopgraph_ready", {}, float(all(results.values()))),
        *(Reading("shopgraph_readiness_check", {"check": name}, float(ok)) for name, ok in results.items()),
    ]


def health_routes(checks: dict[str, ReadinessCheck]) -> list[Route]:
    """The routes; also registers the checks for /metrics (the app's, one per process)."""

    async def readings() -> list[Reading]:
        return readiness_readings(await run_checks(checks))

    PROBES.register("readiness", readings)

    async def live(_: Request) -> JSONResponse:
        return JSONResponse({"status": "live"})

    async def ready(_: Request) -> JSONResponse:
        results = await run_checks(checks)
        healthy = all(results.values())
        body = {"status": "ready" if healthy else "unavailable", "checks": results}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return [Route(LIVE_PATH, live), Route(READY_PATH, ready)]
