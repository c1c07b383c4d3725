"""The MongoDB of a Mongo-backed service: one read pool, one write client, and what the server is.

Any MongoDB wire-protocol server works: the embedded FerretDB locally, MongoDB
in Docker or production. We stay within what both support: single-document
atomic updates, no multi-document transactions, no change streams.

Where the two servers differ, the choice is made here, once, from what the
server reports at start (FerretDB announces itself in `buildInfo`), never in
the services. FerretDB's own limits and what we do about them are in
`shopkit.ferretdb` and docs/architecture.md ("The embedded store").
"""

import asyncio
import enum
import zlib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shopkit import ferretdb, tracing
from shopkit.metrics import STORE_COMMANDS

Document = dict[str, Any]
Client = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]
Sort = Sequence[tuple[str, int]]
Key = TypeVar("Key", bound=Hashable)

# Driver housekeeping that is not a query the service chose to make.
_HANDSHAKE_COMMANDS = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo"})
# The `comment` of the commands /metrics sends when scraped (shopkit.metrics.PROBES): they
# are not the service's work, and counting them would blur STORE_COMMANDS.
UNCOUNTED = "shopgraph:metrics"


class Server(enum.Enum):
    MONGODB = "mongodb"
    FERRETDB = "ferretdb"


class _CommandCounter(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in _HANDSHAKE_COMMANDS and event.command.get("comment") != UNCOUNTED:
            STORE_COMMANDS.labels(store="mongodb", command=event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class _CommandSpans(monitoring.CommandListener):
    """A CLIENT span per command sent inside a traced request or event (`shopkit.tracing`).

    pymongo calls `started` in the task that sends the command, so the span's
    parent is that task's current span.
    """

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._open: dict[tuple[int, object], Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in _HANDSHAKE_COMMANDS or not tracing.recording():
            return
        collection = event.command.get(event.command_name)
        target = collection if isinstance(collection, str) else event.database_name
        host, port = event.connection_id
        attributes: dict[str, str | int] = {
            "db.system.name": "mongodb",
            "db.namespace": event.database_name,
            "db.operation.name": event.command_name,
            "server.address": host,
        }
        if port is not None:
            attributes["server.port"] = port
        if isinstance(collection, str):
            attributes["db.collection.name"] = collection
        span = self._tracer.start_span(
            f"{event.command_name} {target}", kind=SpanKind.CLIENT, attributes=attributes
        )
        self._open[(event.request_id, event.connection_id)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is not None:
            span.set_status(StatusCode.ERROR, str(event.failure.get("errmsg", "")))
            span.end()


def connect(
    uri: str, database: str, *, one_connection: bool = False, tracer: Tracer | None = None
) -> tuple[Client, Database]:
    """Opens a client (commands are counted in `STORE_COMMANDS`, and traced with `tracer`).

    A client of `one_connection` sends no retries of its own. Many commands
    queue on its one connection; after a store restart their retries kept
    meeting the pool PyMongo had just paused, which PyMongo took as fresh
    network errors and paused it again, so the store stayed refused as long as
    the load lasted (measured: docs/architecture.md, "The embedded store").
    Without them a refused command fails once, retryably, and the caller retries.
    """
    options: dict[str, Any] = {}
    if one_connection:
        options.update(maxPoolSize=1, retryWrites=False, retryReads=False)
    listeners: list[monitoring.CommandListener] = [_CommandCounter()]
    if tracer is not None:
        listeners.append(_CommandSpans(tracer))
    client: Client = AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=3000,
        # After a store restart the driver refuses commands ("connection pool paused")
        # until its monitor next sees the server: every 10 s by default, which is
        # 10 s of refusals (tests/faults/test_store_restart.py).
        heartbeatFrequencyMS=1000,
        event_listeners=listeners,
        **options,
    )
    return client, client[database]


async def detect_server(database: Database) -> Server:
    info = await database.command("buildInfo")
    return Server.FERRETDB if "ferretdbVersion" in info else Server.MONGODB


class MongoDB:
    """A service's database: `reads` over a pool, writes over `write_connections` connections.

    Every write of one document goes through the one connection its `_id` picks
    (`writes_for`), and `open` holds the embedded store to one process per
    database: that is what keeps FerretDB's updates atomic (docs/architecture.md,
    "The embedded store", limit 3). On MongoDB it changes nothing.
    """

    def __init__(
        self,
        uri: str,
        database: str,
        *,
        service: str,
        write_connections: int = 4,
        ferretdb_postgresql_url: str | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        if write_connections < 1:
            raise ValueError("a MongoDB needs at least one write connection (MONGODB_WRITE_CONNECTIONS >= 1)")
        self._service = service
        self._ferretdb_postgresql_url = ferretdb_postgresql_url
        self._read_client, self.reads = connect(uri, database, tracer=tracer)
        self._writers = [
            connect(uri, database, one_connection=True, tracer=tracer) for _ in range(write_connections)
        ]
        self.server = Server.MONGODB
        self._writer_lock: ferretdb.WriterLock | None = None

    @property
    def writes(self) -> Database:
        """A write connection for what no other write races with (indexes, collections, seeds)."""
        return self._writers[0][1]

    def writes_for(self, document_id: Hashable) -> Database:
        """The write connection of the document with this `_id`: all its writes go through it."""
        return self._writers[zlib.crc32(repr(document_id).encode()) % len(self._writers)][1]

    async def open(self, equality_fields: Mapping[str, Sequence[str]]) -> None:
        """Learns which server this is and, on FerretDB, makes it fit to serve this process.

        `equality_fields` lists, per collection, every field the service looks
        documents up by equality. MongoDB serves them from the service's own
        `createIndexes`; on FerretDB they get the indexes FerretDB cannot make.
        """
        self.server = await detect_server(self.reads)
        if self.server is Server.MONGODB:
            return
        if not self._ferretdb_postgresql_url:
            raise ferretdb.EmbeddedStoreError(
                f"{self._service}: MONGODB_URI points at FerretDB, which needs shopgraph's indexes and "
                "writer lock in the PostgreSQL it stores into: set FERRETDB_POSTGRESQL_URL to that "
                "database (`make up` does), or use a real MongoDB."
            )
        self._writer_lock = await ferretdb.open_embedded_store(
            self._ferretdb_postgresql_url, self.writes, self._service, equality_fields
        )

    async def close(self) -> None:
        if self._writer_lock is not None:
            await self._writer_lock.release()
            self._writer_lock = None
        await self._read_client.close()
        for client, _ in self._writers:
            await client.close()

    @property
    def one_query_per_key(self) -> bool:
        """Whether `find_grouped` sends one query per value (FerretDB cannot push `$in` down)
        rather than one per batch: a caller with another way to batch may prefer it there."""
        return self.server is Server.FERRETDB

    async def is_ready(self) -> bool:
        try:
            await self.reads.command("ping")
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return False
        return True

    async def find_grouped(
        self,
        collection: Collection,
        field: str,
        values: Iterable[Key],
        *,
        where: Document | None = None,
        projection: Document | None = None,
        sort: Sort | None = None,
        limit: int | None = None,
    ) -> dict[Key, list[Document]]:
        """The documents whose `field` equals each value (up to `limit` per value, in `sort` order).

        One call for a whole DataLoader batch. On MongoDB it is one query
        (`$in`); FerretDB cannot push `$in` down, so there it is one indexed
        equality query per value, all at once over the read pool.
        """
        unique = list(dict.fromkeys(values))
        found: dict[Key, list[Document]] = {value: [] for value in unique}
        if not unique:
            return found
        if len(unique) == 1 or self.one_query_per_key:
            pages = await asyncio.gather(
                *(
                    self._find(collection, {field: value, **(where or {})}, projection, sort, limit)
                    for value in unique
                )
            )
            return dict(zip(unique, pages, strict=True))
        query = {field: {"$in": unique}, **(where or {})}
        # The documents are grouped by `field`, so an inclusion projection must keep it.
        hidden = projection is not None and any(projection.values()) and field not in projection
        if projection is not None and hidden:
            projection = {**projection, field: 1}
        cursor = collection.find(query, projection, batch_size=1000)
        if sort:
            cursor = cursor.sort([(field, 1), *sort])
        unfilled = len(unique)
        async for document in cursor:
            group = found[document.pop(field) if hidden else document[field]]
            if limit is None or len(group) < limit:
                group.append(document)
                if limit is not None and len(group) == limit:
                    unfilled -= 1
                    if unfilled == 0:
                        break
        await cursor.close()
        return found

    async def find_by_ids(
        self, collection: Collection, ids: Iterable[Key], projection: Document | None = None
    ) -> dict[Key, Document]:
        """The documents with these `_id`s (missing ones left out), in one call."""
        groups = await self.find_grouped(collection, "_id", ids, projection=projection, limit=1)
        return {key: documents[0] for key, documents in groups.items() if documents}

    @staticmethod
    async def _find(
        collection: Collection,
        query: Document,
        projection: Document | None,
        sort: Sort | None,
        limit: int | None,
    ) -> list[Document]:
        cursor = collection.find(query, projection)
        if sort:
            cursor = cursor.sort(list(sort))
        if limit is not None:
            # With the limit as the batch size the server answers in one reply and
            # closes the cursor (no getMore, no killCursors).
            cursor = cursor.limit(limit).batch_size(limit + 1)
        return await cursor.to_list()


def mongo_commands_sent() -> float:
    """Total commands sent to MongoDB by this process (all kinds)."""
    total = 0.0
    for metric in STORE_COMMANDS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("store") == "mongodb":
                total += sample.value
    return total
