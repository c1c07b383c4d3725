"""addAddress: validated, atomic, capped."""

from typing import Any

import pytest
from support import GraphQLClient, error_codes

from users.store import MAX_ADDRESSES

ADD_ADDRESS = """
mutation Add($input: AddressInput!) {
  addAddress(input: $input) { id addresses { line1 line2 city postalCode country } }
}"""


def address(**override: Any) -> dict[str, Any]:
    return {
        "line1": "1 Rue de Rivoli",
        "line2": None,
        "city": "Paris",
        "postalCode": "75001",
        "country": "fr",
        **override,
    }


async def test_add_address_to_the_signed_in_user(graphql: GraphQLClient) -> None:
    account = await graphql.register("ivan@example.com")
    body = await graphql.execute(ADD_ADDRESS, {"input": address(line2="  ")}, token=account.token)
    assert "errors" not in body, body
    assert body["data"]["addAddress"] == {
        "id": account.id,
        "addresses": [
            {
                "line1": "1 Rue de Rivoli",
                "line2": None,
                "city": "Paris",
                "postalCode": "75001",
                "country": "FR",
            }
        ],
    }
    second = await graphql.execute(
        ADD_ADDRESS, {"input": address(line1="2 Main St", city="Boston", country="US")}, token=account.token
    )
    assert [a["city"] for a in second["data"]["addAddress"]["addresses"]] == ["Paris", "Boston"]
    me = await graphql.execute("{ me { addresses { city } } }", token=account.token)
    assert me["data"]["me"]["addresses"] == [{"city": "Paris"}, {"city": "Boston"}]


async def test_adding_the_same_address_twice_keeps_one(graphql: GraphQLClient) -> None:
    account = await graphql.register("judy@example.com")
    for _ in range(2):
        body = await graphql.execute(ADD_ADDRESS, {"input": address()}, token=account.token)
    assert len(body["data"]["addAddress"]["addresses"]) == 1


@pytest.mark.parametrize(
    ("override", "field"),
    [
        pytest.param({"country": "XX"}, "country", id="unknown country"),
        pytest.param({"country": "France"}, "country", id="country name"),
        pytest.param({"country": '{"$gt": ""}'}, "country", id="operator as country"),
        pytest.param({"line1": "  "}, "line1", id="blank line1"),
        pytest.param({"city": ""}, "city", id="empty city"),
        pytest.param({"postalCode": "1" * 17}, "postalCode", id="long postal code"),
    ],
)
async def test_invalid_address_is_refused_and_changes_nothing(
    graphql: GraphQLClient, users_collection: Any, override: dict[str, Any], field: str
) -> None:
    account = await graphql.register("ken@example.com")
    body = await graphql.execute(ADD_ADDRESS, {"input": address(**override)}, token=account.token)
    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
    stored = await users_collection.find_one({"_id": account.id})
    assert stored["addresses"] == []


async def test_add_address_needs_a_signed_in_user(graphql: GraphQLClient) -> None:
    body = await graphql.execute(ADD_ADDRESS, {"input": address()})
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_the_address_book_is_capped(graphql: GraphQLClient, users_collection: Any) -> None:
    account = await graphql.register("leo@example.com")
    for n in range(MAX_ADDRESSES):
        body = await graphql.execute(
            ADD_ADDRESS, {"input": address(line1=f"{n} Main St")}, token=account.token
        )
        assert "errors" not in body, body

    full = await graphql.execute(ADD_ADDRESS, {"input": address(line1="One Too Many")}, token=account.token)
    assert error_codes(full) == ["CONFLICT"]
    again = await graphql.execute(ADD_ADDRESS, {"input": address(line1="0 Main St")}, token=account.token)
    assert "errors" not in again, again  # an address already there is not "one more"
    stored = await users_collection.find_one({"_id": account.id})
    assert len(stored["addresses"]) == MAX_ADDRESSES
