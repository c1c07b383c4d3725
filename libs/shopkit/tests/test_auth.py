import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shopkit.auth import Principal, Role, TokenVerifier, VerifiedTokens
from shopkit.errors import Unauthenticated
from shopkit.testing import free_port
from shopkit.tokens import TokenSigner


class KeyServer:
    """A real HTTP server publishing a JWKS that tests can rotate."""

    def __init__(self, signer: TokenSigner) -> None:
        self.signer = signer
        self.fetches = 0

    async def jwks(self, _: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse(self.signer.jwks())


@pytest.fixture
def key_server() -> Iterator[tuple[KeyServer, str]]:
    keys = KeyServer(TokenSigner.generate())
    port = free_port()
    app = Starlette(routes=[Route("/.well-known/jwks.json", keys.jwks)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield keys, f"http://127.0.0.1:{port}/.well-known/jwks.json"
    server.should_exit = True
    thread.join()


async def test_verifies_a_token_and_caches_the_key_set(key_server: tuple[KeyServer, str]) -> None:
    keys, url = key_server
    verifier = TokenVerifier(url)
    token = keys.signer.issue("user-1", Role.CUSTOMER)
    for _ in range(3):
        principal = await verifier.verify(token)
    assert principal.user_id == "user-1"
    assert principal.role is Role.CUSTOMER
    assert keys.fetches == 1


async def test_refetches_the_key_set_when_a_new_key_appears(key_server: tuple[KeyServer, str]) -> None:
    keys, url = key_server
    verifier = TokenVerifier(url, min_refetch_interval=0.0)
    await verifier.verify(keys.signer.issue("user-1", Role.CUSTOMER))
    keys.signer = TokenSigner.generate()  # the users service rotated its key
    principal = await verifier.verify(keys.signer.issue("user-2", Role.ADMIN))
    assert principal.is_admin
    assert keys.fetches == 2


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer not-a-jwt", "malformed"),
        ("Basic dXNlcjpwYXNz", "must be 'Bearer"),
        ("Bearer ", "must be 'Bearer"),
    ],
)
async def test_rejects_malformed_headers(header: str, message: str) -> None:
    verifier = TokenVerifier("http://127.0.0.1:9/unused")
    with pytest.raises(Unauthenticated, match=message):
        await verifier.principal_from_header(header)


async def test_rejects_expired_tokens_and_foreign_keys() -> None:
    signer, stranger = TokenSigner.generate(), TokenSigner.generate()
    verifier = TokenVerifier("http://127.0.0.1:9/unused")
    verifier.use_keys(signer.public_keys())
    with pytest.raises(Unauthenticated, match="expired"):
        await verifier.verify(signer.issue("u", Role.CUSTOMER, ttl=timedelta(seconds=-1)))
    with pytest.raises(Unauthenticated, match="unknown key"):
        await verifier.verify(stranger.issue("u", Role.ADMIN))


async def test_no_header_means_anonymous() -> None:
    assert await TokenVerifier("http://127.0.0.1:9/unused").principal_from_header(None) is None


async def test_concurrent_unknown_keys_fetch_once(key_server: tuple[KeyServer, str]) -> None:
    keys, url = key_server
    verifier = TokenVerifier(url)
    token = keys.signer.issue("user-1", Role.CUSTOMER)
    await asyncio.gather(*(verifier.verify(token) for _ in range(20)))
    assert keys.fetches == 1


async def test_a_token_is_verified_once_until_a_new_key_set(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = TokenSigner.generate()
    verifier = TokenVerifier("http://127.0.0.1:9/unused")
    verifier.use_keys(signer.public_keys())
    decoded: list[str] = []
    decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token = signer.issue("user-1", Role.CUSTOMER)
    for _ in range(4):
        assert (await verifier.verify(token)).user_id == "user-1"
    assert len(decoded) == 1
    verifier.use_keys(TokenSigner.generate().public_keys())  # the signing key was withdrawn
    with pytest.raises(Unauthenticated, match="unknown key"):
        await verifier.verify(token)


def test_verified_tokens_expire_and_stay_bounded() -> None:
    tokens = VerifiedTokens(max_entries=2)
    alice, bob = Principal("alice", Role.CUSTOMER), Principal("bob", Role.ADMIN)
    tokens.add("a", alice, expires_at=100.0)
    assert tokens.get("a", now=99.0) == alice
    assert tokens.get("a", now=100.0) is None
    assert len(tokens) == 0
    tokens.add("a", alice, expires_at=100.0)
    tokens.add("b", bob, expires_at=100.0)
    tokens.add("c", bob, expires_at=100.0)
    assert len(tokens) == 2
    assert tokens.get("a", now=0.0) is None  # the oldest made room
    assert tokens.get("c", now=0.0) == bob
