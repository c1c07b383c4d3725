"""The users store's listed query shapes, planned by PostgreSQL on an index at 3,000 documents
(shopkit.testing.query_plans; docs/architecture.md, "Query shapes")."""

from datetime import UTC, datetime

from shopkit.auth import Role
from shopkit.testing import (
    EmbeddedStore,
    QueryPlans,
    analyze,
    assert_answered_from_indexes,
    explained_mongodb,
    only_on_the_embedded_store,
)
from users.store import UserStore

pytestmark = only_on_the_embedded_store

USERS = 3000


async def test_every_listed_shape_is_planned_on_an_index(
    query_plans: QueryPlans, embedded_store: EmbeddedStore, database_name: str
) -> None:
    mongodb = explained_mongodb(query_plans, embedded_store, database_name, "users")
    store = UserStore(mongodb)
    await store.open()
    try:
        await mongodb.writes.users.insert_many(
            [
                {
                    "_id": f"user-{n}",
                    "email": f"user{n}@example.com",
                    "name": f"User {n}",
                    "role": Role.CUSTOMER.value,
                    "passwordHash": "unused",
                    "addresses": [],
                    "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
                }
                for n in range(USERS)
            ]
        )
        analyze(embedded_store, database_name)

        query_plans.mark()
        assert await store.find_by_email("user7@example.com") is not None
        assert len(await store.find_by_ids(["user-1", "user-2"])) == 2
        address = {"line1": "1 Main St", "line2": None, "city": "Oslo", "postalCode": "0150", "country": "NO"}
        assert await store.add_address("user-3", address) is not None
        await store.update_credentials("user-4", role=Role.ADMIN)
        plans = query_plans.of_database(database_name)
    finally:
        await store.close()

    assert_answered_from_indexes(plans)
