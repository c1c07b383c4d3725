"""What the embedded store needs beyond plain MongoDB: the one place that knows FerretDB.

FerretDB 1.24's limits, and why each answer below is the one, are explained
once, in docs/architecture.md ("The embedded store"). This module holds the
answers to limits 1 and 3 there, and what FerretDB says while it stops:

- `create_equality_indexes`: the GIN `jsonb_path_ops` indexes on
  `(_jsonb->'<field>')` of the tables behind the collections (found in
  FerretDB's metadata table), for the fields each service lists, and the
  refusal of a PostgreSQL that forces generic plans;
- `WriterLock`: the PostgreSQL advisory lock that holds a database to one
  process of its service;
- `is_shutdown_refusal`: the error FerretDB answers an in-flight command with
  while it shuts down, which is the store going away, not a bug.
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

METADATA_TABLE = "_ferretdb_database_metadata"
# Ends the name of every index `create_equality_indexes` makes.
EQUALITY_INDEX_SUFFIX = "_sg_gin"


# FerretDB's generic error code; on shutdown it carries Go's "context canceled".
FERRETDB_INTERNAL_ERROR = 1


def is_shutdown_refusal(error: BaseException) -> bool:
    """FerretDB, shutting down, cancels the commands in flight and answers each with
    `{code: 1, errmsg: "[msg_insert.go:168 ...] context canceled"}` instead of closing the
    connection. Like a connection closed mid-command, the command may or may not have been
    applied, and retrying after the store is back is the answer."""
    return (
        isinstance(error, OperationFailure)
        and error.code == FERRETDB_INTERNAL_ERROR
        and "context canceled" in str(error)
    )


class EmbeddedStoreError(RuntimeError):
    """The embedded store cannot serve this process; the message says why and what to do."""


def equality_index_name(table: str, field: str) -> str:
    """A stable PostgreSQL index name for (table, field), unique and at most 63 characters
    (PostgreSQL's limit): 26 + 1 + 20 + 1 + 8 + 7."""
    digest = hashlib.sha1(f"{table}\0{field}".encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "_", field.lower()).strip("_")[:20]
    return f"{table[:26]}_{slug}_{digest}{EQUALITY_INDEX_SUFFIX}"


@dataclass(frozen=True)
class EqualityIndex:
    collection: str
    field: str
    table: str
    name: str


async def collection_tables(connection: asyncpg.Connection, database: str) -> dict[str, str]:
    """Collection name → the PostgreSQL table FerretDB stores it in (in schema `database`)."""
    exists = await connection.fetchval(
        "SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL", database, METADATA_TABLE
    )
    if not exists:
        return {}
    rows = await connection.fetch(
        f"SELECT _jsonb->>'_id' AS collection, _jsonb->>'table' AS table_name "
        f'FROM "{database}"."{METADATA_TABLE}"'
    )
    return {row["collection"]: row["table_name"] for row in rows}


async def create_equality_indexes(
    connection: asyncpg.Connection, database: str, fields: Mapping[str, Sequence[str]]
) -> list[EqualityIndex]:
    """Creates (if missing) a GIN index per (collection, field); returns them all.

    Every collection must exist already (FerretDB creates its table lazily).
    """
    tables = await collection_tables(connection, database)
    missing = sorted(set(fields) - set(tables))
    if missing:
        raise EmbeddedStoreError(f"FerretDB has no table for the collections {missing} of {database!r}")
    indexes = [
        EqualityIndex(collection, field, tables[collection], equality_index_name(tables[collection], field))
        for collection, collection_fields in fields.items()
        for field in collection_fields
    ]
    for index in indexes:
        # Identifiers are ours or FerretDB's (letters, digits, underscores); the field
        # is a literal of the expression, so it is quoted as one.
        await connection.execute(
            f'CREATE INDEX IF NOT EXISTS "{index.name}" ON "{database}"."{index.table}" '
            f"USING gin ((_jsonb->{_literal(index.field)}) jsonb_path_ops)"
        )
    return indexes


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def check_plan_cache_mode(connection: asyncpg.Connection) -> None:
    mode = await connection.fetchval("SHOW plan_cache_mode")
    if mode == "force_generic_plan":
        raise EmbeddedStoreError(
            "the PostgreSQL behind FerretDB forces generic plans (plan_cache_mode=force_generic_plan), "
            "which can never use the equality indexes: set plan_cache_mode to force_custom_plan "
            "(scripts/embedded-store.sh does) or auto."
        )


def writer_lock_key(database: str) -> int:
    """The advisory lock key (a signed 64-bit integer) of one service's database."""
    digest = hashlib.sha256(f"shopgraph-writer:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class WriterLock:
    """One process per database: an advisory lock held on its own connection until release.

    PostgreSQL releases it when the connection ends, so a process that crashes
    frees it at once and its successor can start.
    """

    def __init__(self, connection: asyncpg.Connection, database: str) -> None:
        self._connection = connection
        self._database = database

    @classmethod
    async def acquire(cls, postgresql_url: str, database: str, service: str) -> "WriterLock":
        connection = await asyncpg.connect(postgresql_url)
        try:
            taken = await connection.fetchval("SELECT pg_try_advisory_lock($1)", writer_lock_key(database))
        except BaseException:
            await connection.close()
            raise
        if not taken:
            await connection.close()
            raise EmbeddedStoreError(
                f"another {service} process already writes to the database {database!r} on this FerretDB. "
                "FerretDB 1.24 applies an update as a read and a write with no isolation between "
                "connections, so two processes would lose updates silently: on the embedded store each "
                "service runs as one process. Stop the other process, or run several against a real "
                "MongoDB (set MONGODB_URI)."
            )
        return cls(connection, database)

    async def release(self) -> None:
        await self._connection.close()


async def open_embedded_store(
    postgresql_url: str,
    database: AsyncDatabase[dict[str, Any]],
    service: str,
    equality_fields: Mapping[str, Sequence[str]],
) -> WriterLock:
    """Takes the writer lock, then makes every listed lookup indexable; returns the lock to hold."""
    lock = await WriterLock.acquire(postgresql_url, database.name, service)
    try:
        existing = set(await database.list_collection_names())
        for collection in equality_fields:
            if collection not in existing:
                await database.create_collection(collection)
        connection = await asyncpg.connect(postgresql_url)
        try:
            await check_plan_cache_mode(connection)
            await create_equality_indexes(connection, database.name, equality_fields)
        finally:
            await connection.close()
    except BaseException:
        await lock.release()
        raise
    return lock
