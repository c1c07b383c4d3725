"""shopkit.ferretdb: the embedded store answers from indexes and admits one writer process.

These run against the session's embedded store (FerretDB on its own PostgreSQL);
on a real MongoDB (MONGODB_URI) there is nothing of FerretDB's to test.
"""

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shopkit.ferretdb import EmbeddedStoreError, collection_tables, equality_index_name
from shopkit.mongo import MongoDB, Server
from shopkit.testing import EmbeddedStore, QueryPlans

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("MONGODB_URI")), reason="tests FerretDB's adapter; MONGODB_URI is a real MongoDB"
)

FIELDS = {"orders": ("_id", "customerId", "outboxPending")}
# Enough rows that reading the table costs PostgreSQL more than an index lookup.
ROWS = 3000


def open_store(mongodb_uri: str, database: str, embedded_store: EmbeddedStore) -> MongoDB:
    return MongoDB(
        mongodb_uri, database, service="orders", ferretdb_postgresql_url=embedded_store.postgresql_url
    )


@pytest.fixture
async def opened(embedded_store: EmbeddedStore, database_name: str) -> AsyncIterator[MongoDB]:
    mongodb = open_store(embedded_store.mongodb_uri, database_name, embedded_store)
    await mongodb.open(FIELDS)
    yield mongodb
    await mongodb.close()


async def index_names(embedded_store: EmbeddedStore, schema: str) -> set[str]:
    connection = await asyncpg.connect(embedded_store.postgresql_url)
    try:
        rows = await connection.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = $1", schema)
    finally:
        await connection.close()
    return {row["indexname"] for row in rows}


async def test_each_listed_field_gets_its_index_once(
    opened: MongoDB, embedded_store: EmbeddedStore, database_name: str
) -> None:
    assert opened.server is Server.FERRETDB
    connection = await asyncpg.connect(embedded_store.postgresql_url)
    try:
        table = (await collection_tables(connection, database_name))["orders"]
    finally:
        await connection.close()
    expected = {equality_index_name(table, field) for field in FIELDS["orders"]}

    assert expected <= await index_names(embedded_store, database_name)

    # Opening again (the next start) creates nothing new and fails on nothing.
    await opened.close()
    again = open_store(embedded_store.mongodb_uri, database_name, embedded_store)
    before = await index_names(embedded_store, database_name)
    await again.open(FIELDS)
    await again.close()
    assert await index_names(embedded_store, database_name) == before


async def test_a_second_process_of_a_service_is_refused_until_the_first_stops(
    opened: MongoDB, embedded_store: EmbeddedStore, database_name: str
) -> None:
    second = open_store(embedded_store.mongodb_uri, database_name, embedded_store)
    with pytest.raises(EmbeddedStoreError, match="another orders process") as refused:
        await second.open(FIELDS)
    assert "MONGODB_URI" in str(refused.value)

    await opened.close()
    await second.open(FIELDS)
    await second.close()


async def test_another_database_is_not_held_by_the_lock(
    opened: MongoDB, embedded_store: EmbeddedStore
) -> None:
    other = open_store(embedded_store.mongodb_uri, f"test_{uuid.uuid4().hex[:12]}", embedded_store)
    await other.open(FIELDS)
    await other.close()


async def test_ferretdb_without_its_postgresql_is_refused(
    embedded_store: EmbeddedStore, database_name: str
) -> None:
    mongodb = MongoDB(embedded_store.mongodb_uri, database_name, service="orders")
    with pytest.raises(EmbeddedStoreError, match="FERRETDB_POSTGRESQL_URL"):
        await mongodb.open(FIELDS)
    await mongodb.close()


async def test_lookups_by_each_listed_field_are_planned_on_an_index(
    query_plans: QueryPlans, embedded_store: EmbeddedStore, database_name: str
) -> None:
    mongodb = open_store(query_plans.mongodb_uri, database_name, embedded_store)
    await mongodb.open(FIELDS)
    try:
        orders = mongodb.writes.orders
        await orders.insert_many(
            [{"_id": f"o{n}", "customerId": f"c{n % 300}", "outboxPending": n == 7} for n in range(ROWS)]
        )
        embedded_store.psql(f'ANALYZE "{database_name}"."{await table_of(embedded_store, database_name)}"')

        query_plans.mark()
        assert len(await mongodb.find_by_ids(mongodb.reads.orders, ["o1", "o2"])) == 2
        assert (
            len((await mongodb.find_grouped(mongodb.reads.orders, "customerId", ["c1"]))["c1"]) == ROWS // 300
        )
        assert await orders.find_one({"outboxPending": True}) is not None
        await orders.update_one({"_id": "o3"}, {"$set": {"customerId": "c4"}})
        plans = [plan for plan in query_plans.since_mark() if f'"{database_name}"' in plan.query]
    finally:
        await mongodb.close()

    assert plans, "no plan was logged: is auto_explain on for the explained role?"
    assert [plan for plan in plans if plan.sequential_scans()] == []
    lookups = [plan for plan in plans if plan.query.startswith("SELECT")]
    assert len(lookups) >= 5  # two ids, one customer, the flag, the update's read
    assert all("_sg_gin" in plan.plan for plan in lookups), lookups


async def table_of(embedded_store: EmbeddedStore, database: str) -> str:
    connection = await asyncpg.connect(embedded_store.postgresql_url)
    try:
        return (await collection_tables(connection, database))["orders"]
    finally:
        await connection.close()
