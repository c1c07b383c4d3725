"""Helpers for tests through the router: sending operations and minting real tokens.

The fixtures that hand these out live in tests/conftest.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import httpx


class GraphQL(Protocol):
    def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]: ...


def post_graphql(
    client: httpx.Client,
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """Sends one operation; asserts HTTP 200 and returns the response body (data and errors)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = client.post(url, json={"query": query, "variables": variables or {}}, headers=headers)
    assert response.status_code == 200, f"HTTP {response.status_code} from {url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a response that must have no errors."""
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]
    return data


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    password: str
    role: str
    token: str


_AUTH_FIELDS = "token user { id email role }"


class Accounts:
    """Signs accounts up and in through the router's real `register` and `login`."""

    def __init__(self, graphql: GraphQL, admin_email: str, admin_password: str) -> None:
        self._graphql = graphql
        self._admin = (admin_email, admin_password)

    def register(self, name: str = "Test Customer", password: str = "correct-horse-battery") -> Account:
        email = f"customer-{uuid.uuid4().hex[:12]}@example.com"
        body = self._graphql(
            f"mutation($input: RegisterInput!) {{ register(input: $input) {{ {_AUTH_FIELDS} }} }}",
            {"input": {"email": email, "name": name, "password": password}},
        )
        return self._account(data_of(body)["register"], password)

    def login(self, email: str, password: str) -> Account:
        body = self._graphql(
            f"mutation($email: String!, $password: String!) {{ login(email: $email, password: $password) "
            f"{{ {_AUTH_FIELDS} }} }}",
            {"email": email, "password": password},
        )
        return self._account(data_of(body)["login"], password)

    def admin(self) -> Account:
        return self.login(*self._admin)

    @staticmethod
    def _account(payload: dict[str, Any], password: str) -> Account:
        user = payload["user"]
        return Account(user["id"], user["email"], password, user["role"], payload["token"])
