"""Helpers the tests share: a small GraphQL client and the operations it sends."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from users.app import create_app
from users.config import Settings

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class GraphQLClient:
    http: httpx.AsyncClient

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def register(self, email: str, name: str = "Ann Example", password: str = PASSWORD) -> "Account":
        body = await self.execute(REGISTER, {"input": {"email": email, "name": name, "password": password}})
        assert "errors" not in body, body
        payload = body["data"]["register"]
        return Account(id=payload["user"]["id"], token=payload["token"], email=payload["user"]["email"])

    async def login(self, email: str, password: str) -> dict[str, Any]:
        return await self.execute(LOGIN, {"email": email, "password": password})


@dataclass(frozen=True)
class Account:
    id: str
    token: str
    email: str


USER_FIELDS = "id email name role createdAt addresses { line1 line2 city postalCode country }"
REGISTER = f"""
mutation Register($input: RegisterInput!) {{
  register(input: $input) {{ token user {{ {USER_FIELDS} }} }}
}}"""
LOGIN = f"""
mutation Login($email: String!, $password: String!) {{
  login(email: $email, password: $password) {{ token user {{ {USER_FIELDS} }} }}
}}"""


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


@asynccontextmanager
async def running_app(
    settings: Settings, client_address: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """The app started in-process (lifespan included) and an HTTP client to it."""
    async with started_app(settings) as app, client_of(app, client_address) as client:
        yield client


@asynccontextmanager
async def started_app(settings: Settings) -> AsyncIterator[ASGIApp]:
    """The app started in-process (lifespan included), to open clients to with `client_of`."""
    async with LifespanManager(create_app(settings)) as manager:
        yield manager.app


def client_of(app: ASGIApp, client_address: str, *, named: bool = True) -> httpx.AsyncClient:
    """An HTTP client whose requests reach the app from this address.

    `named`: as through the router behind a proxy, which names the client in
    `X-Forwarded-For` (uvicorn's proxy-headers handling, which would move it into
    the peer address, is not in the way here: the peer already is that address).
    """
    transport = httpx.ASGITransport(app=app, client=(client_address, 50000))
    headers = {"x-forwarded-for": client_address} if named else {}
    return httpx.AsyncClient(transport=transport, base_url="http://users.test", headers=headers)
