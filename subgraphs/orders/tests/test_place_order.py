"""placeOrder: catalog prices, server-side totals, and bad input that changes nothing."""

import uuid
from typing import Any

import pytest
from conftest import ADDRESS, PLACE_ORDER, GraphQL, Tokens, error_codes, place_input, place_order
from pymongo.asynchronous.database import AsyncDatabase

from shopkit.mongo import Document


async def test_place_order_prices_from_catalog_and_totals_server_side(gql: GraphQL, tokens: Tokens) -> None:
    customer = uuid.uuid4().hex
    order = await place_order(
        gql,
        tokens.customer(customer),
        [{"sku": "MUG-CER-350", "quantity": 3}, {"sku": "KB-MECH-TKL", "quantity": 1}],
    )
    assert order["status"] == "PENDING_PAYMENT"
    assert order["number"].startswith("SG-")
    assert order["customer"] == {"id": customer}
    assert order["items"] == [
        {
            "quantity": 3,
            "unitPrice": {"amount": 1450, "currency": "USD"},
            "lineTotal": {"amount": 4350, "currency": "USD"},
            "product": {"sku": "MUG-CER-350", "name": "Ceramic Coffee Mug, 350 ml"},
        },
        {
            "quantity": 1,
            "unitPrice": {"amount": 8999, "currency": "USD"},
            "lineTotal": {"amount": 8999, "currency": "USD"},
            "product": {"sku": "KB-MECH-TKL", "name": "Tenkeyless Mechanical Keyboard (Brown Switches)"},
        },
    ]
    assert order["total"] == {"amount": 4350 + 8999, "currency": "USD"}
    assert order["shippingAddress"] == {**ADDRESS, "line2": None}
    assert order["history"] == [{"status": "PENDING_PAYMENT", "event": "order.placed"}]
    assert order["createdAt"] == order["updatedAt"]


async def test_order_numbers_are_unique_and_increasing(gql: GraphQL, tokens: Tokens) -> None:
    token = tokens.customer(uuid.uuid4().hex)
    numbers = [(await place_order(gql, token))["number"] for _ in range(3)]
    assert numbers == sorted(set(numbers))
    assert numbers[0] == "SG-000001"


async def test_duplicate_skus_are_merged_into_one_line(gql: GraphQL, tokens: Tokens) -> None:
    order = await place_order(
        gql,
        tokens.customer(uuid.uuid4().hex),
        [{"sku": "PEN-GEL-12", "quantity": 2}, {"sku": "PEN-GEL-12", "quantity": 5}],
    )
    assert [(item["product"]["sku"], item["quantity"]) for item in order["items"]] == [("PEN-GEL-12", 7)]
    assert order["total"] == {"amount": 7 * 999, "currency": "USD"}


async def test_price_cannot_be_sent_by_the_client(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document]
) -> None:
    tampered = place_input(
        [{"sku": "MUG-CER-350", "quantity": 1, "unitPrice": {"amount": 1, "currency": "USD"}}]
    )
    result = await gql(PLACE_ORDER, tampered, token=tokens.customer(uuid.uuid4().hex))
    assert result["data"] is None
    assert "unitPrice" in result["errors"][0]["message"]
    assert await db["orders"].count_documents({}) == 0


def many(count: int) -> list[dict[str, Any]]:
    return [{"sku": "MUG-CER-350", "quantity": 1}] * count


BAD_BASKETS = [
    pytest.param([], "at least one item", id="empty items"),
    pytest.param([{"sku": "MUG-CER-350", "quantity": 0}], "between 1 and 100", id="quantity 0"),
    pytest.param([{"sku": "MUG-CER-350", "quantity": 101}], "between 1 and 100", id="quantity 101"),
    pytest.param([{"sku": "MUG-CER-350", "quantity": -5}], "between 1 and 100", id="negative quantity"),
    pytest.param(
        [{"sku": "MUG-CER-350", "quantity": 60}, {"sku": "MUG-CER-350", "quantity": 60}],
        "between 1 and 100",
        id="merged quantity 120",
    ),
    pytest.param(many(51), "at most 50 lines", id="51 lines"),
    pytest.param([{"sku": "NO-SUCH-THING", "quantity": 1}], "Unknown SKU: NO-SUCH-THING", id="unknown sku"),
    pytest.param(
        [{"sku": "MUG-CER-350", "quantity": 1}, {"sku": "GHOST", "quantity": 1}],
        "Unknown SKU: GHOST",
        id="one unknown sku among known",
    ),
    pytest.param([{"sku": '{"$gt": ""}', "quantity": 1}], 'Unknown SKU: {"$gt": ""}', id="operator in sku"),
    pytest.param([{"sku": "", "quantity": 1}], "SKU", id="empty sku"),
]


@pytest.mark.parametrize(("items", "message"), BAD_BASKETS)
async def test_bad_basket_is_refused_and_writes_nothing(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document], items: list[dict[str, Any]], message: str
) -> None:
    result = await gql(PLACE_ORDER, place_input(items), token=tokens.customer(uuid.uuid4().hex))
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert message in result["errors"][0]["message"]
    assert result["data"] is None
    assert await db["orders"].count_documents({}) == 0
    assert await db["counters"].count_documents({}) == 0  # no order number, no customer position


BAD_ADDRESSES = [
    pytest.param({**ADDRESS, "country": "XX"}, "country", id="unknown country"),
    pytest.param({**ADDRESS, "country": "USA"}, "country", id="alpha-3 country"),
    pytest.param({**ADDRESS, "line1": "  "}, "line1", id="blank line1"),
    pytest.param({**ADDRESS, "city": ""}, "city", id="blank city"),
    pytest.param({**ADDRESS, "country": '{"$ne": null}'}, "country", id="operator in country"),
]


@pytest.mark.parametrize(("address", "field"), BAD_ADDRESSES)
async def test_bad_address_is_refused_and_writes_nothing(
    gql: GraphQL, tokens: Tokens, db: AsyncDatabase[Document], address: dict[str, Any], field: str
) -> None:
    variables = place_input([{"sku": "MUG-CER-350", "quantity": 1}], address)
    result = await gql(PLACE_ORDER, variables, token=tokens.customer(uuid.uuid4().hex))
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert result["errors"][0]["extensions"]["field"] == field
    assert await db["orders"].count_documents({}) == 0


async def test_country_is_normalised_to_upper_case(gql: GraphQL, tokens: Tokens) -> None:
    variables = place_input([{"sku": "MUG-CER-350", "quantity": 1}], {**ADDRESS, "country": "de"})
    result = await gql(PLACE_ORDER, variables, token=tokens.customer(uuid.uuid4().hex))
    assert result["data"]["placeOrder"]["shippingAddress"]["country"] == "DE"


async def test_placing_an_order_needs_a_valid_token(gql: GraphQL, db: AsyncDatabase[Document]) -> None:
    variables = place_input([{"sku": "MUG-CER-350", "quantity": 1}])
    anonymous = await gql(PLACE_ORDER, variables)
    forged = await gql(PLACE_ORDER, variables, token="not.a.jwt")
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    assert error_codes(forged) == ["UNAUTHENTICATED"]
    assert await db["orders"].count_documents({}) == 0
