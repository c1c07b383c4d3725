"""Fixtures: the users app in-process against a real FerretDB (or MONGODB_URI)."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from support import GraphQLClient, running_app

from shopkit.mongo import Client
from users.config import Settings

pytest_plugins = ["shopkit.testing"]


@pytest.fixture
def settings(
    mongodb_uri: str,
    database_name: str,
    tmp_path: Path,
    ferretdb_postgresql_url: str | None,
    redis_url: str,
) -> Settings:
    return Settings(
        mongodb_uri=mongodb_uri,
        mongodb_database=database_name,
        ferretdb_postgresql_url=ferretdb_postgresql_url,
        jwt_private_key_file=tmp_path / "keys" / "jwt-ed25519.pem",
        # The cheapest argon2 parameters keep the suite fast; production uses the default.
        password_hash_profile="CHEAPEST",
        # The session's redis-server; each test counts sign-in failures under its own keys.
        login_redis_url=redis_url,
        login_limit_key_prefix=f"test:{database_name}:login",
    )


@pytest.fixture
async def users_collection(mongodb_uri: str, database_name: str) -> AsyncIterator[Any]:
    """Direct access to the store, to check what a request did (or did not) write."""
    client: Client = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        yield client[database_name]["users"]
    finally:
        await client.close()


@pytest.fixture
async def http_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(settings) as client:
        yield client


@pytest.fixture
def graphql(http_client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http_client)


@pytest.fixture
async def admin_token(graphql: GraphQLClient, settings: Settings) -> str:
    body = await graphql.login(settings.admin_email, settings.admin_password)
    assert "errors" not in body, body
    token: str = body["data"]["login"]["token"]
    return token
