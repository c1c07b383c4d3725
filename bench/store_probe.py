"""What single store queries cost, and whether updates are atomic, on the bench's MongoDB stand-in.

    uv run --project bench python -m bench.store_probe [--uri mongodb://127.0.0.1:27217/]

`make bench` calls `seeded_query_costs` on the seeded data set (what one query
costs at the bench's own data size, with the store's plan for it). Run on its own,
it makes two measurements against a throwaway database (dropped afterwards):
1. query cost by collection size: the FerretDB process's CPU time per `find`
   with an equality filter on a secondary field, on `_id`, and `_id: {$in: [...]}`
   (what a DataLoader sends), for 100, 1,000 and 3,000 order-sized documents;
2. atomicity of single-document updates: 50 concurrent `$inc` and `$push` on one
   document; MongoDB always ends with 50.

Point it at a FerretDB nobody else is loading; it finds the server's pid by its port.
"""

import argparse
import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import psutil
from pymongo import AsyncMongoClient, MongoClient

from bench.probes import cpu_seconds, listening_pids

SIZES = (100, 1000, 3000)
REPEATS = 5
CONCURRENT_UPDATES = 50
DATABASE = "bench_store_probe"


def order_like(index: int) -> dict[str, Any]:
    item = {
        "sku": "SKU-1",
        "name": "A product name",
        "quantity": 2,
        "unitPrice": {"amount": 1234, "currency": "USD"},
    }
    return {
        "_id": uuid.uuid4().hex,
        "number": f"SG-{index:06d}",
        "customerId": f"c{index % 1000}",
        "status": "PAID",
        "items": [item, item, item],
        "total": {"amount": 7404, "currency": "USD"},
        "shippingAddress": {"line1": "1 Street", "city": "Lisbon", "postalCode": "10000", "country": "PT"},
        "appliedEvents": [uuid.uuid4().hex, uuid.uuid4().hex],
    }


def query_cost(uri: str, server: psutil.Process) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    with client:
        database = client[DATABASE]
        for size in SIZES:
            collection = database[f"orders_{size}"]
            documents = [order_like(i) for i in range(size)]
            collection.insert_many(documents)
            collection.create_index("customerId")
            ids = [d["_id"] for d in documents]
            filters = {
                "customerId equality (indexed)": {"customerId": "c7"},
                "_id equality": {"_id": ids[size // 2]},
                "_id $in (2 ids)": {"_id": {"$in": ids[:2]}},
            }
            for row in _timed_queries(collection, [server], filters):
                rows.append(row)
                print(row, flush=True)
        client.drop_database(DATABASE)
    return rows


def _total_cpu(servers: Sequence[psutil.Process]) -> float:
    return sum(cpu_seconds(server) for server in servers)


def _timed_queries(
    collection: Any, servers: Sequence[psutil.Process], filters: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = []
    documents = collection.estimated_document_count()
    for name, query in filters.items():
        cpu_before, started = _total_cpu(servers), time.perf_counter()
        for _ in range(REPEATS):
            list(collection.find(query))
        rows.append(
            {
                "collection": f"{collection.database.name}.{collection.name}",
                "documents": documents,
                "query": name,
                "serverCpuMsPerQuery": round(1000 * (_total_cpu(servers) - cpu_before) / REPEATS, 1),
                "wallMsPerQuery": round(1000 * (time.perf_counter() - started) / REPEATS, 1),
            }
        )
    return rows


def seeded_query_costs(uri: str, servers: Sequence[psutil.Process]) -> dict[str, Any]:
    """What single queries cost on the seeded collections, measured one at a time on an idle stack.

    `servers` are the store's processes whose CPU is counted (FerretDB, and its
    PostgreSQL with the connection backends under it).
    """
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    with client:
        orders = client["orders"]["orders"]
        payments = client["payments"]["payments"]
        users = client["users"]["users"]
        order = orders.find_one({}, {"customerId": 1})
        other = orders.find_one({"_id": {"$ne": order["_id"]}}, {"_id": 1}) if order else None
        payment = payments.find_one({}, {"orderId": 1})
        user = users.find_one({}, {"_id": 1})
        if not (order and other and payment and user):
            return {"error": "the data set has no orders, payments or users"}
        rows = _timed_queries(
            orders,
            servers,
            {
                "_id equality": {"_id": order["_id"]},
                "_id $in (2 ids)": {"_id": {"$in": [order["_id"], other["_id"]]}},
                "customerId equality (indexed)": {"customerId": order["customerId"]},
            },
        )
        rows += _timed_queries(
            payments,
            servers,
            {
                "_id equality": {"_id": payment["_id"]},
                "orderId $in (1 id, indexed)": {"orderId": {"$in": [payment["orderId"]]}},
            },
        )
        rows += _timed_queries(users, servers, {"_id equality": {"_id": user["_id"]}})
        explained = client["orders"].command("explain", {"find": "orders", "filter": {"_id": order["_id"]}})
        return {"queries": rows, "idEqualityPlan": explained.get("queryPlanner")}


async def lost_updates(uri: str) -> dict[str, int]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        collection = client[DATABASE]["atomicity"]
        await collection.insert_one({"_id": "doc", "counter": 0, "events": []})
        await asyncio.gather(
            *(
                collection.update_one({"_id": "doc"}, {"$inc": {"counter": 1}})
                for _ in range(CONCURRENT_UPDATES)
            )
        )
        await asyncio.gather(
            *(
                collection.update_one({"_id": "doc"}, {"$push": {"events": n}})
                for n in range(CONCURRENT_UPDATES)
            )
        )
        document = await collection.find_one({"_id": "doc"})
        assert document is not None
        await client.drop_database(DATABASE)
        return {
            "concurrentUpdates": CONCURRENT_UPDATES,
            "counterAfterIncs": int(document["counter"]),
            "elementsAfterPushes": len(document["events"]),
        }
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default="mongodb://127.0.0.1:27217/")
    uri = parser.parse_args().uri
    port = urlparse(uri).port or 27017
    pid = listening_pids({"server": port}).get("server")
    if pid is None:
        raise SystemExit(f"nothing listens on port {port}")
    print(query_cost(uri, psutil.Process(pid)))
    print(asyncio.run(lost_updates(uri)))


if __name__ == "__main__":
    main()
