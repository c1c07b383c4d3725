"""Who may read which User: `user(id)`, and `_entities` as the router asks for it."""

from datetime import UTC, datetime
from typing import Any

from support import GraphQLClient, error_codes

from shopkit.mongo import Server
from shopkit.testing import StoreWork, batch_commands

USER = "query($id: ID!) { user(id: $id) { id email } }"
ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on User { id email name role } }
}"""


def user_refs(*ids: str) -> dict[str, Any]:
    return {"representations": [{"__typename": "User", "id": user_id} for user_id in ids]}


async def test_a_customer_reads_themselves_but_not_others(graphql: GraphQLClient) -> None:
    rupert = await graphql.register("rupert@example.com")
    sybil = await graphql.register("sybil@example.com")

    own = await graphql.execute(USER, {"id": rupert.id}, token=rupert.token)
    assert own["data"]["user"] == {"id": rupert.id, "email": "rupert@example.com"}

    other = await graphql.execute(USER, {"id": sybil.id}, token=rupert.token)
    assert other["data"]["user"] is None
    assert error_codes(other) == ["FORBIDDEN"]
    # Unknown ids look the same as others' ids: no probing for who exists.
    unknown = await graphql.execute(USER, {"id": "0" * 32}, token=rupert.token)
    assert error_codes(unknown) == ["FORBIDDEN"]


async def test_user_needs_a_token(graphql: GraphQLClient) -> None:
    rupert = await graphql.register("rupert@example.com")
    body = await graphql.execute(USER, {"id": rupert.id})
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_an_admin_reads_anyone_and_unknown_ids_are_null(
    graphql: GraphQLClient, admin_token: str
) -> None:
    trent = await graphql.register("trent@example.com")
    body = await graphql.execute(USER, {"id": trent.id}, token=admin_token)
    assert body["data"]["user"] == {"id": trent.id, "email": "trent@example.com"}
    for unknown_id in ["0" * 32, '{"$ne": null}', '{"$gt": ""}']:
        missing = await graphql.execute(USER, {"id": unknown_id}, token=admin_token)
        assert missing == {"data": {"user": None}}, unknown_id


async def test_entities_resolve_the_callers_own_user(graphql: GraphQLClient) -> None:
    victor = await graphql.register("victor@example.com", name="Victor")
    body = await graphql.execute(ENTITIES, user_refs(victor.id), token=victor.token)
    assert body == {
        "data": {
            "_entities": [
                {"id": victor.id, "email": "victor@example.com", "name": "Victor", "role": "CUSTOMER"}
            ]
        }
    }


async def test_entities_of_other_customers_are_forbidden_one_by_one(graphql: GraphQLClient) -> None:
    victor = await graphql.register("victor@example.com")
    walter = await graphql.register("walter@example.com")
    body = await graphql.execute(ENTITIES, user_refs(victor.id, walter.id), token=victor.token)
    assert body["data"]["_entities"][0]["id"] == victor.id
    assert body["data"]["_entities"][1] is None
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["_entities", 1]


async def test_entities_need_a_token(graphql: GraphQLClient) -> None:
    victor = await graphql.register("victor@example.com")
    body = await graphql.execute(ENTITIES, user_refs(victor.id))
    assert body["data"]["_entities"] == [None]
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_entities_of_unknown_users_are_not_found(graphql: GraphQLClient, admin_token: str) -> None:
    body = await graphql.execute(ENTITIES, user_refs("0" * 32), token=admin_token)
    assert body["data"]["_entities"] == [None]
    assert error_codes(body) == ["NOT_FOUND"]


async def test_hundred_entities_cost_one_store_call(
    graphql: GraphQLClient, admin_token: str, users_collection: Any, mongodb_server: Server
) -> None:
    await users_collection.insert_many(
        [
            {
                "_id": f"bulk{n:028d}",
                "email": f"bulk{n}@example.com",
                "name": f"Bulk {n}",
                "role": "CUSTOMER",
                "passwordHash": "unused",
                "addresses": [],
                "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
            }
            for n in range(100)
        ]
    )
    ids = [f"bulk{n:028d}" for n in range(100)]

    async def work_for(refs: list[str]) -> StoreWork:
        before = StoreWork.now()
        body = await graphql.execute(ENTITIES, user_refs(*refs), token=admin_token)
        assert "errors" not in body, body
        assert [entity["id"] for entity in body["data"]["_entities"]] == refs
        return StoreWork.now() - before

    one, hundred = await work_for(ids[:1]), await work_for(ids)
    # Repeated and reordered representations: each distinct user once.
    repeated = await work_for(list(reversed(ids)) + ids[:10])
    assert one.calls == hundred.calls == repeated.calls == 1
    assert one.commands == batch_commands(mongodb_server, 1)
    assert hundred.commands == repeated.commands == batch_commands(mongodb_server, 100)
