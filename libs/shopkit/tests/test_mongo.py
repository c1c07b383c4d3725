"""shopkit.mongo.MongoDB: one store call per DataLoader batch, on either server."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from shopkit.metrics import STORE_COMMANDS
from shopkit.mongo import MongoDB, Server, mongo_commands_sent

DOCUMENTS = [
    {"_id": f"o{n}", "customerId": f"c{n % 3}", "createdAt": n, "status": "PAID" if n % 2 else "OPEN"}
    for n in range(12)
]


@pytest.fixture
async def mongodb(
    mongodb_uri: str, database_name: str, ferretdb_postgresql_url: str | None
) -> AsyncIterator[MongoDB]:
    mongodb = MongoDB(
        mongodb_uri, database_name, service="test", ferretdb_postgresql_url=ferretdb_postgresql_url
    )
    await mongodb.open({"orders": ("_id", "customerId")})
    await mongodb.writes.orders.insert_many(DOCUMENTS)
    yield mongodb
    await mongodb.writes.client.drop_database(database_name)
    await mongodb.close()


def finds_sent() -> float:
    return sum(
        sample.value
        for metric in STORE_COMMANDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels.get("command") == "find"
    )


@pytest.fixture(params=[Server.MONGODB, Server.FERRETDB])
def server(request: pytest.FixtureRequest, mongodb: MongoDB) -> Server:
    """Both ways of asking a batch, whatever answers: FerretDB also understands `$in`."""
    chosen: Server = request.param
    mongodb.server = chosen
    return chosen


async def test_the_server_is_recognised(mongodb: MongoDB, mongodb_uri: str) -> None:
    info = await mongodb.reads.command("buildInfo")
    assert mongodb.server is (Server.FERRETDB if "ferretdbVersion" in info else Server.MONGODB)


async def test_a_batch_is_one_query_on_mongodb_and_one_lookup_per_key_on_ferretdb(
    mongodb: MongoDB, server: Server
) -> None:
    before = finds_sent()
    found = await mongodb.find_by_ids(mongodb.reads.orders, ["o3", "o1", "o3", "missing"])
    sent = finds_sent() - before

    assert found == {"o3": DOCUMENTS[3], "o1": DOCUMENTS[1]}
    # Each distinct key once; on MongoDB one `$in` for all of them.
    assert sent == (1 if server is Server.MONGODB else 3)


async def test_a_single_key_is_asked_by_equality_on_both(mongodb: MongoDB, server: Server) -> None:
    before = mongo_commands_sent()
    assert await mongodb.find_by_ids(mongodb.reads.orders, ["o5"]) == {"o5": DOCUMENTS[5]}
    assert mongo_commands_sent() - before == 1


async def test_groups_keep_their_order_limit_and_filter(mongodb: MongoDB, server: Server) -> None:
    pages = await mongodb.find_grouped(
        mongodb.reads.orders,
        "customerId",
        ["c2", "c0", "nobody"],
        where={"status": "PAID"},
        projection={"_id": 1},
        sort=[("createdAt", -1)],
        limit=2,
    )

    assert pages == {
        "c2": [{"_id": "o11"}, {"_id": "o5"}],
        "c0": [{"_id": "o9"}, {"_id": "o3"}],
        "nobody": [],
    }


async def test_no_keys_ask_nothing(mongodb: MongoDB, server: Server) -> None:
    before = mongo_commands_sent()
    assert await mongodb.find_grouped(mongodb.reads.orders, "customerId", []) == {}
    assert mongo_commands_sent() == before


async def test_concurrent_updates_of_one_document_through_its_connection_all_count(mongodb: MongoDB) -> None:
    # Over several connections FerretDB loses concurrent updates of one document
    # (200 increments ended at 79); through the document's own connection none is lost.
    await mongodb.writes.counters.insert_one({"_id": "c", "value": 0})

    await asyncio.gather(
        *(
            mongodb.writes_for("c").counters.update_one({"_id": "c"}, {"$inc": {"value": 1}})
            for _ in range(200)
        )
    )

    assert await mongodb.reads.counters.find_one({"_id": "c"}) == {"_id": "c", "value": 200}


async def test_concurrent_conditional_claims_of_one_document_have_one_winner(mongodb: MongoDB) -> None:
    await mongodb.writes.claims.insert_one({"_id": "order", "holder": None})

    async def claim(holder: int) -> bool:
        won = await mongodb.writes_for("order").claims.find_one_and_update(
            {"_id": "order", "holder": None}, {"$set": {"holder": holder}}
        )
        return won is not None

    assert sum(await asyncio.gather(*(claim(n) for n in range(50)))) == 1


def test_documents_are_spread_over_the_write_connections_and_each_keeps_its_own(mongodb: MongoDB) -> None:
    chosen = {key: mongodb.writes_for(key) for key in (f"order-{n}" for n in range(100))}
    assert all(mongodb.writes_for(key) is database for key, database in chosen.items())
    assert len({id(database) for database in chosen.values()}) == 4
