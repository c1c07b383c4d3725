"""Signing up, signing in and `me`."""

import asyncio
from typing import Any

import pytest
from support import LOGIN, PASSWORD, GraphQLClient, error_codes

ME = "query { me { id email name role } }"


async def test_register_signs_in_a_new_customer(graphql: GraphQLClient) -> None:
    body = await graphql.execute(
        "mutation($input: RegisterInput!) { register(input: $input) { token user { id email name role "
        "addresses { city } createdAt } } }",
        {"input": {"email": "  Ann.Example@Example.COM ", "name": "  Ann Example ", "password": PASSWORD}},
    )
    assert "errors" not in body, body
    payload = body["data"]["register"]
    assert payload["user"]["email"] == "ann.example@example.com"
    assert payload["user"]["name"] == "Ann Example"
    assert payload["user"]["role"] == "CUSTOMER"
    assert payload["user"]["addresses"] == []
    assert payload["user"]["createdAt"].endswith("+00:00")

    me = await graphql.execute(ME, token=payload["token"])
    assert me["data"]["me"] == {
        "id": payload["user"]["id"],
        "email": "ann.example@example.com",
        "name": "Ann Example",
        "role": "CUSTOMER",
    }


async def test_login_with_any_spelling_of_the_email(graphql: GraphQLClient) -> None:
    account = await graphql.register("bob@example.com")
    body = await graphql.login("BOB@Example.com", PASSWORD)
    assert "errors" not in body, body
    assert body["data"]["login"]["user"]["id"] == account.id
    me = await graphql.execute(ME, token=body["data"]["login"]["token"])
    assert me["data"]["me"]["id"] == account.id


async def test_me_is_null_without_a_token(graphql: GraphQLClient) -> None:
    assert await graphql.execute(ME) == {"data": {"me": None}}


async def test_the_stored_password_is_an_argon2_hash(graphql: GraphQLClient, users_collection: Any) -> None:
    await graphql.register("hash@example.com")
    stored = await users_collection.find_one({"email": "hash@example.com"})
    assert stored["passwordHash"].startswith("$argon2id$")
    assert PASSWORD not in stored["passwordHash"]


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("carol@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("not an email", PASSWORD),
        ("carol@example.com", "x" * 500),
    ],
)
async def test_wrong_credentials_do_not_reveal_whether_the_email_exists(
    graphql: GraphQLClient, email: str, password: str
) -> None:
    await graphql.register("carol@example.com")
    body = await graphql.login(email, password)
    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "Wrong email or password."


BAD_REGISTRATIONS = [
    pytest.param({"email": "not-an-email"}, "email", id="malformed email"),
    pytest.param({"email": "two@@example.com"}, "email", id="two at signs"),
    pytest.param({"email": ""}, "email", id="empty email"),
    pytest.param({"email": '{"$gt": ""}'}, "email", id="operator in email"),
    pytest.param({"password": "short"}, "password", id="short password"),
    pytest.param({"password": "p" * 129}, "password", id="long password"),
    pytest.param({"name": "   "}, "name", id="blank name"),
    pytest.param({"name": "n" * 101}, "name", id="long name"),
]


@pytest.mark.parametrize(("override", "field"), BAD_REGISTRATIONS)
async def test_bad_registration_is_refused_and_writes_nothing(
    graphql: GraphQLClient, users_collection: Any, override: dict[str, str], field: str
) -> None:
    before = await users_collection.count_documents({})
    registration = {"email": "dave@example.com", "name": "Dave", "password": PASSWORD, **override}
    body = await graphql.execute(
        "mutation($input: RegisterInput!) { register(input: $input) { token } }", {"input": registration}
    )
    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
    assert await users_collection.count_documents({}) == before


async def test_duplicate_email_is_refused(graphql: GraphQLClient, users_collection: Any) -> None:
    await graphql.register("erin@example.com")
    body = await graphql.execute(
        "mutation($input: RegisterInput!) { register(input: $input) { token } }",
        {"input": {"email": "ERIN@example.com", "name": "Other Erin", "password": PASSWORD}},
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "already exists" in body["errors"][0]["message"]
    assert await users_collection.count_documents({"email": "erin@example.com"}) == 1


async def test_concurrent_registrations_of_one_email_create_one_account(
    graphql: GraphQLClient, users_collection: Any
) -> None:
    attempts = [
        graphql.execute(
            "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }",
            {"input": {"email": "frank@example.com", "name": f"Frank {n}", "password": PASSWORD}},
        )
        for n in range(10)
    ]
    bodies = await asyncio.gather(*attempts)
    succeeded = [body for body in bodies if "errors" not in body]
    refused = [body for body in bodies if "errors" in body]
    assert len(succeeded) == 1
    assert all(error_codes(body) == ["BAD_USER_INPUT"] for body in refused)
    assert await users_collection.count_documents({"email": "frank@example.com"}) == 1


async def test_operators_smuggled_into_login_strings_match_nobody(graphql: GraphQLClient) -> None:
    await graphql.register("grace@example.com")
    for email, password in [
        ('{"$gt": ""}', '{"$gt": ""}'),
        ('{"$ne": null}', PASSWORD),
        ("grace@example.com", '{"$ne": ""}'),
    ]:
        body = await graphql.login(email, password)
        assert error_codes(body) == ["UNAUTHENTICATED"], (email, password)


async def test_operator_objects_in_place_of_strings_are_refused(graphql: GraphQLClient) -> None:
    await graphql.register("grace@example.com")
    body = await graphql.execute(LOGIN, {"email": {"$gt": ""}, "password": {"$ne": None}})
    assert body["data"] is None
    assert all("String cannot represent a non string value" in error["message"] for error in body["errors"])


async def test_login_rehashes_a_password_hashed_with_old_parameters(
    graphql: GraphQLClient, users_collection: Any
) -> None:
    from argon2 import PasswordHasher

    await graphql.register("heidi@example.com")
    old_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    await users_collection.update_one({"email": "heidi@example.com"}, {"$set": {"passwordHash": old_hash}})

    body = await graphql.login("heidi@example.com", PASSWORD)
    assert "errors" not in body, body
    stored = await users_collection.find_one({"email": "heidi@example.com"})
    assert stored["passwordHash"] != old_hash
    assert stored["passwordHash"].startswith("$argon2id$v=19$m=8,t=1,p=1$")  # the CHEAPEST profile
    assert "errors" not in await graphql.login("heidi@example.com", PASSWORD)
