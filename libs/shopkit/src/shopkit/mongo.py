"""The MongoDB connection each Mongo-backed service opens at start.

Any MongoDB wire-protocol server works: FerretDB locally, MongoDB in Docker or
production. We stay within what both support: single-document atomic updates,
no multi-document transactions, no change streams.
"""

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


def connect(uri: str, database: str) -> tuple[Client, Database]:
    client: Client = AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=3000,
        event_listeners=[_CommandCounter()],
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
