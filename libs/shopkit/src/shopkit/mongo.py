"""The MongoDB connection each Mongo-backed service opens at start.

Any MongoDB wire-protocol server works: FerretDB locally, MongoDB in Docker or
production. We stay within what both support: single-document atomic updates,
no multi-document transactions, no change streams.
"""

from collections.abc import Iterable
from typing import Any

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shopkit.metrics import STORE_COMMANDS

Document = dict[str, Any]
Client = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]

# Driver housekeeping that is not a query the service chose to make.
_HANDSHAKE_COMMANDS = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo"})


class _CommandCounter(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in _HANDSHAKE_COMMANDS:
            STORE_COMMANDS.labels(store="mongodb", command=event.command_name).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def any_of(field: str, values: Iterable[Any]) -> Document:
    """The filter for documents whose `field` is one of `values` (each asked once).

    A single value is asked by equality: FerretDB 1.24 hands equality to its
    backend (SQLite for `_id` only, PostgreSQL for any field) but decodes every
    document of the collection itself for `$in`. MongoDB answers both from the
    index. Most DataLoader batches in a request are of one key.
    """
    unique = list(dict.fromkeys(values))
    if len(unique) == 1:
        return {field: unique[0]}
    return {field: {"$in": unique}}


def connect(uri: str, database: str, *, max_pool_size: int | None = None) -> tuple[Client, Database]:
    """Opens a client; `max_pool_size=1` sends every command over one connection.

    FerretDB 1.24 (SQLite) applies an update as read-modify-write without
    isolation between connections: concurrent updates of one document lose
    all but one (even `$inc`), and a conditional `find_one_and_update` can
    have several winners. It serves one connection's commands one at a time,
    so a service that routes its writes through a one-connection client gets
    atomic single-document updates back.
    """
    options: dict[str, Any] = {} if max_pool_size is None else {"maxPoolSize": max_pool_size}
    client: Client = AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=3000,
        event_listeners=[_CommandCounter()],
        **options,
    )
    return client, client[database]


async def is_ready(database: Database) -> bool:
    try:
        await database.command("ping")
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return True


def mongo_commands_sent() -> float:
    """Total commands sent to MongoDB by this process (all kinds)."""
    total = 0.0
    for metric in STORE_COMMANDS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("store") == "mongodb":
                total += sample.value
    return total
