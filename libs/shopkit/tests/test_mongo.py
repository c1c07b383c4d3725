"""shopkit.mongo.MongoDB: one store call per DataLoader batch, on either server."""

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
