"""/health/live and /health/ready: ready exactly while MongoDB answers."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
from support import running_app

from users.config import Settings


class TcpRelay:
    """A TCP relay in front of MongoDB, to cut the service off from its store."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuses new connections and drops the open ones."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        server_reader, server_writer = await asyncio.open_connection(*self._target)
        try:
            await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()


@contextlib.asynccontextmanager
async def relayed(mongodb_uri: str) -> AsyncIterator[TcpRelay]:
    target = urlsplit(mongodb_uri)
    assert target.hostname is not None
    assert target.port is not None
    relay = TcpRelay(target.hostname, target.port)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


async def test_live_and_ready(http_client: httpx.AsyncClient) -> None:
    live = await http_client.get("/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "live"})
    ready = await http_client.get("/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {"mongodb": True}})


async def test_not_ready_while_mongodb_is_unreachable(settings: Settings, mongodb_uri: str) -> None:
    async with relayed(mongodb_uri) as relay:
        through_relay = settings.model_copy(update={"mongodb_uri": f"mongodb://127.0.0.1:{relay.port}/"})
        async with running_app(through_relay) as http:
            assert (await http.get("/health/ready")).status_code == 200
            await relay.stop()
            unready = await http.get("/health/ready")
            assert unready.status_code == 503
            assert unready.json() == {"status": "unavailable", "checks": {"mongodb": False}}
            assert (await http.get("/health/live")).status_code == 200
