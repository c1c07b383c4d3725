import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request

from shopkit.admission import Admission, stepped_aside
from shopkit.health import LIVE_PATH
from shopkit.http import create_app


async def test_no_more_than_the_limit_are_inside_and_the_rest_enter_in_arrival_order() -> None:
    admission = Admission(2)
    inside: list[int] = []
    most_inside = 0
    entered: list[int] = []
    let_go = asyncio.Event()

    async def request(n: int) -> None:
        nonlocal most_inside
        async with admission.admitted():
            entered.append(n)
            inside.append(n)
            most_inside = max(most_inside, len(inside))
            await let_go.wait()
            inside.remove(n)

    tasks = [asyncio.create_task(request(n)) for n in range(6)]
    await asyncio.sleep(0.01)
    assert entered == [0, 1]
    let_go.set()
    await asyncio.gather(*tasks)
    assert most_inside == 2
    assert entered == [0, 1, 2, 3, 4, 5]


async def test_a_request_that_steps_aside_lets_the_next_one_in_and_queues_again_after() -> None:
    admission = Admission(1)
    events: list[str] = []
    answer = asyncio.Event()

    async def waiting_for_an_answer() -> None:
        async with admission.admitted():
            events.append("first in")
            async with stepped_aside():
                await answer.wait()
            events.append("first back")

    async def quick() -> None:
        async with admission.admitted():
            events.append("second in")
            answer.set()
            await asyncio.sleep(0.01)
            events.append("second out")

    await asyncio.gather(waiting_for_an_answer(), quick())
    # The first takes a slot again only once the second has left it.
    assert events == ["first in", "second in", "second out", "first back"]


async def test_a_request_cancelled_while_queueing_again_gives_back_nothing_it_does_not_hold() -> None:
    admission = Admission(1)
    holder_inside = asyncio.Event()
    holder_may_leave = asyncio.Event()

    async def stepping_aside() -> None:
        async with admission.admitted(), stepped_aside():
            await asyncio.sleep(0)

    async def holder() -> None:
        async with admission.admitted():
            holder_inside.set()
            await holder_may_leave.wait()

    stepper = asyncio.create_task(stepping_aside())
    holding = asyncio.create_task(holder())
    await holder_inside.wait()  # the stepper stepped aside; the holder took the slot
    await asyncio.sleep(0.01)  # the stepper queues for it again
    stepper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stepper
    holder_may_leave.set()
    await holding
    # Still exactly one slot: of two requests, the second gets in only after the first.
    order: list[str] = []

    async def request(name: str) -> None:
        async with admission.admitted():
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(request("a"), request("b"))
    assert order == ["a in", "a out", "b in", "b out"]


def test_stepping_aside_outside_a_request_changes_nothing() -> None:
    async def outside() -> str:
        async with stepped_aside():
            return "ran"

    assert asyncio.run(outside()) == "ran"


def test_at_least_one_request_is_let_in() -> None:
    with pytest.raises(ValueError, match="GRAPHQL_CONCURRENCY"):
        Admission(0)


async def test_the_app_admits_graphql_requests_up_to_its_concurrency_and_never_health_checks() -> None:
    started = 0
    release = asyncio.Event()

    @strawberry.type
    class Query:
        @strawberry.field
        async def slow(self) -> int:
            nonlocal started
            started += 1
            await release.wait()
            return 1

    async def context(_: Request) -> dict[str, str]:
        return {}

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield

    app = create_app(
        schema=strawberry.Schema(Query),
        context_factory=context,
        lifespan=lifespan,
        readiness={},
        concurrency=2,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        requests = [
            asyncio.create_task(client.post("/graphql", json={"query": "{ slow }"})) for _ in range(5)
        ]
        await asyncio.sleep(0.05)
        assert started == 2
        live = await client.get(LIVE_PATH)
        assert live.status_code == 200
        release.set()
        answers = await asyncio.gather(*requests)
    assert started == 5
    assert [answer.json() for answer in answers] == [{"data": {"slow": 1}}] * 5
