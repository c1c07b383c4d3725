"""A small GraphQL-over-HTTP client for signing up, signing in and placing orders through the API."""

from functools import cache
from typing import Any

import httpx

from bench.config import BENCH_DIR


@cache
def operation(name: str) -> str:
    """The text of `bench/operations/<name>.graphql`."""
    return (BENCH_DIR / "operations" / f"{name}.graphql").read_text()


class GraphQLError(Exception):
    """A response that was not HTTP 200 with data and no errors."""


class GraphQLClient:
    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url
        self._http = httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> "GraphQLClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The data of a response that must be complete; raises GraphQLError otherwise."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self._http.post(
            self.url, json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json() if response.status_code == 200 else {}
        if response.status_code != 200 or body.get("errors") or body.get("data") is None:
            raise GraphQLError(f"HTTP {response.status_code} from {self.url}: {response.text[:300]}")
        data: dict[str, Any] = body["data"]
        return data
