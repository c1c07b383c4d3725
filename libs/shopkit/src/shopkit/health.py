"""Liveness and readiness endpoints.

`/health/live` answers as long as the process serves HTTP. `/health/ready`
answers 200 only when every store the service needs responds, so orchestrators
(supervisor scripts, Docker healthchecks, the router's health gating) can wait
for it.
"""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ReadinessCheck = Callable[[], Awaitable[bool]]


def health_routes(checks: dict[str, ReadinessCheck]) -> list[Route]:
    async def live(_: Request) -> JSONResponse:
        return JSONResponse({"status": "live"})

    async def ready(_: Request) -> JSONResponse:
        results = {name: await check() for name, check in checks.items()}
        healthy = all(results.values())
        body = {"status": "ready" if healthy else "unavailable", "checks": results}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return [Route("/health/live", live), Route("/health/ready", ready)]
