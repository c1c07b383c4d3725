"""A small GraphQL-over-HTTP client for seeding and probing through the real API."""

from functools import cache
from typing import Any

import httpx

from bench.config import BENCH_DIR

OPERATIONS_DIR = BENCH_DIR / "operations"


@cache
def operation(name: str) -> str:
    """The text of `bench/operations/<name>.graphql` (the same files the k6 scenarios send)."""
    return (OPERATIONS_DIR / f"{name}.graphql").read_text()


class GraphQLError(Exception):
    """A response that was not HTTP 200 with data and no errors."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    @property
    def codes(self) -> set[str]:
        return {str(error.get("extensions", {}).get("code", "")) for error in self.errors}


class GraphQLClient:
    def __init__(self, url: str, *, timeout: float = 30.0, max_connections: int = 32) -> None:
        self.url = url
        self._http = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def __aenter__(self) -> "GraphQLClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """Data of a response that must be complete; raises GraphQLError otherwise."""
        body = await self.execute_partial(query, variables, token=token)
        if body.get("errors"):
            raise GraphQLError(_describe(body["errors"]), body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def execute_partial(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The whole response body (data and errors), for batched mutations whose aliases may fail alone."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self._http.post(
            self.url, json={"query": query, "variables": variables or {}}, headers=headers
        )
        if response.status_code != 200:
            raise GraphQLError(f"HTTP {response.status_code} from {self.url}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        if body.get("data") is None:
            raise GraphQLError(_describe(body.get("errors") or []), body.get("errors"))
        return body


def _describe(errors: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{error.get('message')} ({error.get('extensions', {}).get('code', '?')})" for error in errors[:3]
    )
