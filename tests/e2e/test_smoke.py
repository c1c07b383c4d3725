"""Smoke test through each router: sign up, sign in, browse, order, read it back across subgraphs."""

from harness import Accounts, GraphQL, data_of

PRODUCTS = "{ products { sku name price { amount currency } } }"

PLACE_ORDER = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    id status
    total { amount currency }
    items { quantity product { sku name } unitPrice { amount } lineTotal { amount } }
    customer { id email }
    balanceDue { amount currency }
  }
}
"""

MY_ORDERS = "{ me { id orders { nodes { id status } } } }"

ADDRESS = {"line1": "1 Main Street", "city": "Springfield", "postalCode": "12345", "country": "US"}


def test_router_answers(graphql: GraphQL) -> None:
    assert data_of(graphql("{ __typename }")) == {"__typename": "Query"}


def test_register_login_browse_and_order(graphql: GraphQL, accounts: Accounts) -> None:
    registered = accounts.register()
    signed_in = accounts.login(registered.email, registered.password)
    assert signed_in.id == registered.id
    assert signed_in.role == "CUSTOMER"

    products = data_of(graphql(PRODUCTS))["products"]
    assert len(products) >= 20
    product = products[0]

    order = data_of(
        graphql(
            PLACE_ORDER,
            {"input": {"items": [{"sku": product["sku"], "quantity": 2}], "shippingAddress": ADDRESS}},
            token=signed_in.token,
        )
    )["placeOrder"]

    unit_price = product["price"]["amount"]
    assert order["status"] == "PENDING_PAYMENT"
    assert order["items"] == [
        {
            "quantity": 2,
            "product": {"sku": product["sku"], "name": product["name"]},
            "unitPrice": {"amount": unit_price},
            "lineTotal": {"amount": 2 * unit_price},
        }
    ]
    assert order["total"] == {"amount": 2 * unit_price, "currency": product["price"]["currency"]}
    # users resolves the customer; payments computes balanceDue from orders' total (@requires).
    assert order["customer"] == {"id": registered.id, "email": registered.email}
    assert order["balanceDue"] == order["total"]

    me = data_of(graphql(MY_ORDERS, token=signed_in.token))["me"]
    assert me["id"] == registered.id
    assert {"id": order["id"], "status": "PENDING_PAYMENT"} in me["orders"]["nodes"]


def test_orders_need_a_token(graphql: GraphQL) -> None:
    body = graphql(
        PLACE_ORDER,
        {"input": {"items": [{"sku": "ANY", "quantity": 1}], "shippingAddress": ADDRESS}},
    )
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]
