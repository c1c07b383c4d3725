"""Reading: the catalog, order(id), and entity references, with who may see what."""

import uuid
from typing import Any

from conftest import GraphQL, Tokens, build_app, error_codes, place_order
from pymongo.asynchronous.database import AsyncDatabase

from orders.config import Settings
from orders.seed import CATALOG
from shopkit.auth import Role
from shopkit.mongo import Document
from shopkit.tokens import TokenSigner

ORDER = "query Order($id: ID!) { order(id: $id) { id number status customer { id } } }"
ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Order { id status total { amount } items { product { sku } } }
    ... on Product { sku name price { amount currency } }
  }
}
"""


def order_ref(order_id: str) -> dict[str, Any]:
    return {"__typename": "Order", "id": order_id}


async def test_catalog_needs_no_token_and_has_realistic_prices(gql: GraphQL) -> None:
    result = await gql("{ products { sku name price { amount currency } } }")
    products = result["data"]["products"]
    assert len(products) == len(CATALOG) >= 20
    assert {product["sku"] for product in products} == {product.sku for product in CATALOG}
    assert all(
        product["price"]["currency"] == "USD" and product["price"]["amount"] > 0 for product in products
    )
    assert [product["name"] for product in products] == sorted(product["name"] for product in products)


async def test_seeding_again_changes_nothing(
    settings: Settings, signer: TokenSigner, db: AsyncDatabase[Document]
) -> None:
    first = build_app(settings, signer, background_workers=False)
    async with first.router.lifespan_context(first):
        pass
    before = await db["products"].find().sort("_id").to_list()
    # The next start of the service (one process at a time on the embedded store).
    second = build_app(settings, signer, background_workers=False)
    async with second.router.lifespan_context(second):
        pass
    assert await db["products"].find().sort("_id").to_list() == before


async def test_owner_and_admin_read_an_order_others_are_forbidden(gql: GraphQL, tokens: Tokens) -> None:
    customer = uuid.uuid4().hex
    order = await place_order(gql, tokens.customer(customer))

    own = await gql(ORDER, {"id": order["id"]}, token=tokens.customer(customer))
    admin = await gql(ORDER, {"id": order["id"]}, token=tokens.admin())
    other = await gql(ORDER, {"id": order["id"]}, token=tokens.customer(uuid.uuid4().hex))
    anonymous = await gql(ORDER, {"id": order["id"]})

    assert own["data"]["order"] == {
        "id": order["id"],
        "number": order["number"],
        "status": "PENDING_PAYMENT",
        "customer": {"id": customer},
    }
    assert admin["data"]["order"] == own["data"]["order"]
    assert other["data"]["order"] is None
    assert error_codes(other) == ["FORBIDDEN"]
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


async def test_unknown_order_is_null_and_operators_match_nothing(gql: GraphQL, tokens: Tokens) -> None:
    await place_order(gql, tokens.customer(uuid.uuid4().hex))
    for order_id in [uuid.uuid4().hex, '{"$gt": ""}', '{"$ne": null}']:
        result = await gql(ORDER, {"id": order_id}, token=tokens.admin())
        assert result == {"data": {"order": None}}


async def test_token_from_an_unknown_key_is_unauthenticated(gql: GraphQL, tokens: Tokens) -> None:
    order = await place_order(gql, tokens.customer(uuid.uuid4().hex))
    forged = TokenSigner.generate().issue("someone", Role.ADMIN)
    result = await gql(ORDER, {"id": order["id"]}, token=forged)
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_order_entities_respect_ownership(gql: GraphQL, tokens: Tokens) -> None:
    mine, theirs = uuid.uuid4().hex, uuid.uuid4().hex
    my_order = await place_order(gql, tokens.customer(mine))
    their_order = await place_order(gql, tokens.customer(theirs))
    representations = [order_ref(my_order["id"]), order_ref(their_order["id"]), order_ref(uuid.uuid4().hex)]

    result = await gql(ENTITIES, {"representations": representations}, token=tokens.customer(mine))

    entities = result["data"]["_entities"]
    assert entities[0]["id"] == my_order["id"]
    assert entities[1] is None
    assert entities[2] is None
    assert [(error["path"], error["extensions"]["code"]) for error in result["errors"]] == [
        (["_entities", 1], "FORBIDDEN")
    ]
    admin = await gql(ENTITIES, {"representations": representations[:2]}, token=tokens.admin())
    assert [entity["id"] for entity in admin["data"]["_entities"]] == [my_order["id"], their_order["id"]]


async def test_order_entities_need_a_token(gql: GraphQL, tokens: Tokens) -> None:
    order = await place_order(gql, tokens.customer(uuid.uuid4().hex))
    result = await gql(ENTITIES, {"representations": [order_ref(order["id"])]})
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_product_entities_are_public(gql: GraphQL) -> None:
    representations = [
        {"__typename": "Product", "sku": "CHAIR-MESH"},
        {"__typename": "Product", "sku": "NOT-A-PRODUCT"},
    ]
    result = await gql(ENTITIES, {"representations": representations})
    assert result == {
        "data": {
            "_entities": [
                {
                    "sku": "CHAIR-MESH",
                    "name": "Mesh Office Chair with Lumbar Support",
                    "price": {"amount": 24900, "currency": "USD"},
                },
                None,
            ]
        }
    }
