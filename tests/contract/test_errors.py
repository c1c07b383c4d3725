"""Errors: tokens verified against the JWKS, codes clients branch on, and masking.

A bad token fails only the fields that need a caller (UNAUTHENTICATED), so public ones still
answer. Anything that is not an error the service chose to give is masked as "Internal server
error." with only `extensions.code` = INTERNAL_SERVER_ERROR. Operations the schema refuses
(unknown fields, too deep, too many aliases or tokens) get no data.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import redis

from contract import layout
from contract.conftest import Scheduled
from contract.queries import DELIVERY, TRACK, data_of, error_codes
from contract.service import Delivery
from contract.tokens import Caller, Issuer


def bad_tokens(issuer: Issuer) -> dict[str, str]:
    user_id = uuid.uuid4().hex
    now = int(time.time())
    return {
        "malformed": "not-a-jwt",
        "expired": issuer.token(user_id, "ADMIN", iat=now - 7200, exp=now - 3600),
        "unknown key": Issuer().token(user_id, "ADMIN"),
        "wrong audience": issuer.token(user_id, "ADMIN", aud="someone-else"),
        "wrong issuer": issuer.token(user_id, "ADMIN", iss="someone-else"),
        "unknown role": issuer.token(user_id, "ROOT"),
        "tampered": issuer.token(user_id, "CUSTOMER")[:-6] + "AAAAAA",
    }


@pytest.mark.parametrize(
    "kind",
    ["malformed", "expired", "unknown key", "wrong audience", "wrong issuer", "unknown role", "tampered"],
)
def test_a_bad_token_is_unauthenticated_where_a_caller_is_needed(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, issuer: Issuer, kind: str
) -> None:
    record = scheduled(customer)
    caller = Caller("whoever", bad_tokens(issuer)[kind])

    refused = delivery.graphql(DELIVERY, {"id": record["id"]}, caller)
    public = delivery.graphql(TRACK % "id", {"number": record["trackingNumber"]}, caller)

    assert refused["data"] == {"delivery": None}
    assert error_codes(refused) == ["UNAUTHENTICATED"]
    assert data_of(public) == {"trackDelivery": {"id": record["id"]}}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc.def.ghi"])
def test_an_authorization_header_that_is_not_a_bearer_token_is_unauthenticated(
    delivery: Delivery, scheduled: Scheduled, customer: Caller, header: str
) -> None:
    record = scheduled(customer)
    response = delivery.post(DELIVERY, {"id": record["id"]}, {"authorization": header})

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"delivery": None}
    assert error_codes(body) == ["UNAUTHENTICATED"]


def test_an_internal_failure_is_masked(delivery: Delivery, store: redis.Redis, admin: Caller) -> None:
    delivery_id = uuid.uuid4().hex
    store.set(layout.delivery(delivery_id), "{this is not a delivery")

    body = delivery.graphql(DELIVERY, {"id": delivery_id}, admin)

    assert body["data"] == {"delivery": None}
    [error] = body["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert error["path"] == ["delivery"]
    store.delete(layout.delivery(delivery_id))


def refused(body: dict[str, Any]) -> None:
    assert body.get("data") is None, body
    assert body["errors"]
    assert all(error["message"] for error in body["errors"])


def test_an_unknown_field_or_argument_is_refused(delivery: Delivery) -> None:
    refused(delivery.graphql("{ deliveries { id } }"))
    refused(delivery.graphql('{ delivery(id: "x", force: true) { id } }'))
    refused(delivery.graphql("{ delivery { id } }"))
    refused(delivery.graphql("{ delivery(id: "))


def test_operations_beyond_the_limits_are_refused(delivery: Delivery) -> None:
    # Depth 12, 30 aliases, 4000 tokens (GRAPHQL_MAX_DEPTH, _ALIASES, _TOKENS; docs/architecture.md).
    nested = "id"
    for _ in range(7):
        nested = f"order {{ delivery {{ {nested} }} }}"
    refused(delivery.graphql(f'{{ delivery(id: "x") {{ {nested} }} }}'))
    shallow = delivery.graphql('{ delivery(id: "x") { order { delivery { order { delivery { id } } } } } }')
    assert shallow["data"] == {"delivery": None}  # executed (and refused only for want of a token)

    aliases = " ".join(f'a{i}: trackDelivery(trackingNumber: "x") {{ id }}' for i in range(31))
    refused(delivery.graphql(f"{{ {aliases} }}"))
    data_of(
        delivery.graphql(
            "{ " + " ".join(f'a{i}: trackDelivery(trackingNumber: "x") {{ id }}' for i in range(30)) + " }"
        )
    )

    many_tokens = "{ " + "__typename " * 4001 + "}"
    refused(delivery.graphql(many_tokens))
