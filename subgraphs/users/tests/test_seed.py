"""The admin and demo customer accounts are ensured at every start, idempotently."""

from typing import Any

from support import GraphQLClient, error_codes, running_app

from users.config import Settings


async def accounts_with_email(users_collection: Any, email: str) -> list[dict[str, Any]]:
    return [doc async for doc in users_collection.find({"email": email})]


async def test_admin_and_demo_customer_can_sign_in(graphql: GraphQLClient, settings: Settings) -> None:
    admin = await graphql.login(settings.admin_email, settings.admin_password)
    assert admin["data"]["login"]["user"]["role"] == "ADMIN"
    customer = await graphql.login(settings.demo_customer_email, settings.demo_customer_password)
    assert customer["data"]["login"]["user"]["role"] == "CUSTOMER"
    assert customer["data"]["login"]["user"]["name"] == "Demo Customer"


async def test_restarts_do_not_duplicate_or_change_seeded_accounts(
    settings: Settings, users_collection: Any
) -> None:
    async with running_app(settings):
        pass
    [admin] = await accounts_with_email(users_collection, settings.admin_email)
    for _ in range(2):
        async with running_app(settings):
            pass
    assert await accounts_with_email(users_collection, settings.admin_email) == [admin]
    assert len(await accounts_with_email(users_collection, settings.demo_customer_email)) == 1


async def test_a_new_admin_password_replaces_the_old_one(settings: Settings, users_collection: Any) -> None:
    async with running_app(settings):
        pass
    [before] = await accounts_with_email(users_collection, settings.admin_email)

    changed = settings.model_copy(update={"admin_password": "a brand new admin password"})
    async with running_app(changed) as http:
        graphql = GraphQLClient(http)
        assert error_codes(await graphql.login(settings.admin_email, settings.admin_password)) == [
            "UNAUTHENTICATED"
        ]
        new = await graphql.login(settings.admin_email, "a brand new admin password")
        assert new["data"]["login"]["user"]["id"] == before["_id"]
    assert len(await accounts_with_email(users_collection, settings.admin_email)) == 1


async def test_an_account_registered_with_the_admin_email_becomes_the_admin(
    settings: Settings, users_collection: Any
) -> None:
    admin_email = "boss@example.com"
    async with running_app(settings) as http:
        squatter = await GraphQLClient(http).register(admin_email, password="squatters password")

    promoted = settings.model_copy(
        update={"admin_email": admin_email, "admin_password": "the real admin password"}
    )
    async with running_app(promoted) as http:
        graphql = GraphQLClient(http)
        assert error_codes(await graphql.login(admin_email, "squatters password")) == ["UNAUTHENTICATED"]
        body = await graphql.login(admin_email, "the real admin password")
        user = body["data"]["login"]["user"]
        assert (user["id"], user["role"]) == (squatter.id, "ADMIN")
    assert len(await accounts_with_email(users_collection, admin_email)) == 1
