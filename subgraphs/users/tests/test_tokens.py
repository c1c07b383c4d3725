"""Bearer tokens: issued here, verified here, and verifiable by others through the JWKS."""

import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from support import PASSWORD, GraphQLClient, error_codes

from shopkit.auth import AUDIENCE, ISSUER, Role, TokenVerifier
from shopkit.tokens import TokenSigner
from users.config import Settings

ME = "{ me { id } }"


def unverified_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def test_jwks_serves_the_key_that_verifies_issued_tokens(
    graphql: GraphQLClient, http_client: httpx.AsyncClient
) -> None:
    account = await graphql.register("mallory@example.com")
    response = await http_client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    key_set = jwt.PyJWKSet.from_dict(response.json())
    assert [key.key_id for key in key_set.keys] == [jwt.get_unverified_header(account.token)["kid"]]

    # What every other service does with the key set.
    verifier = TokenVerifier(jwks_url="unused: keys are installed below")
    verifier.use_keys({key.key_id: key for key in key_set.keys if key.key_id})
    principal = await verifier.verify(account.token)
    assert (principal.user_id, principal.role) == (account.id, Role.CUSTOMER)

    claims = jwt.decode(account.token, key=key_set.keys[0], algorithms=["EdDSA"], audience=AUDIENCE)
    assert claims["iss"] == ISSUER
    assert claims["exp"] - claims["iat"] == Settings().jwt_ttl_seconds


async def test_the_signing_key_is_kept_across_restarts(settings: Settings) -> None:
    first = TokenSigner.from_pem_file(settings.jwt_private_key_file, create=True)
    second = TokenSigner.from_pem_file(settings.jwt_private_key_file, create=False)
    assert first.key_id == second.key_id


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer not-a-jwt", id="malformed"),
        pytest.param("Bearer ", id="empty"),
        pytest.param("Basic dXNlcjpwYXNz", id="not bearer"),
        pytest.param("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", id="alg none"),
    ],
)
async def test_malformed_tokens_are_unauthenticated(
    http_client: httpx.AsyncClient, authorization: str
) -> None:
    response = await http_client.post(
        "/graphql", json={"query": ME}, headers={"Authorization": authorization}
    )
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


async def test_expired_token_is_unauthenticated(graphql: GraphQLClient, settings: Settings) -> None:
    account = await graphql.register("niaj@example.com")
    own_signer = TokenSigner.from_pem_file(settings.jwt_private_key_file, create=False)
    expired = own_signer.issue(account.id, Role.CUSTOMER, ttl=timedelta(seconds=-1))
    body = await graphql.execute(ME, token=expired)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "expired" in body["errors"][0]["message"]


async def test_token_signed_by_another_key_is_unauthenticated(graphql: GraphQLClient) -> None:
    account = await graphql.register("olivia@example.com")
    forged = TokenSigner.generate().issue(account.id, Role.ADMIN)
    body = await graphql.execute(ME, token=forged)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_a_token_edited_to_claim_admin_is_unauthenticated(graphql: GraphQLClient) -> None:
    account = await graphql.register("peggy@example.com")
    header, payload, signature = account.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "ADMIN"
    edited_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    body = await graphql.execute(ME, token=f"{header}.{edited_payload}.{signature}")
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_login_token_carries_the_role(graphql: GraphQLClient, settings: Settings) -> None:
    await graphql.register("quentin@example.com")
    customer = await graphql.login("quentin@example.com", PASSWORD)
    admin = await graphql.login(settings.admin_email, settings.admin_password)
    assert unverified_claims(customer["data"]["login"]["token"])["role"] == "CUSTOMER"
    assert unverified_claims(admin["data"]["login"]["token"])["role"] == "ADMIN"
    assert admin["data"]["login"]["user"]["role"] == "ADMIN"
