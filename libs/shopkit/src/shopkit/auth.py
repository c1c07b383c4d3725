"""Who is calling: bearer tokens verified against the users service's key set.

The users service signs EdDSA (Ed25519) JWTs and publishes its public keys at
`/.well-known/jwks.json`. Every service keeps those keys in memory and only
fetches the set again when a token names a key id it has not seen (a key
rotation) or when the cached set is older than `max_age`.

A request through the router brings the same token to every subgraph it
fetches from, and a client sends it again with each request, so a verified
token is remembered until it expires (`VerifiedTokens`): its signature is
checked once per process, not once per fetch.
"""

import asyncio
import enum
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from shopkit.errors import Forbidden, ServiceUnavailable, Unauthenticated

ALGORITHMS = ["EdDSA"]
ISSUER = "shopgraph-users"
AUDIENCE = "shopgraph"


class Role(enum.Enum):
    CUSTOMER = "CUSTOMER"
    ADMIN = "ADMIN"


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_see(self, owner_id: str) -> bool:
        return self.is_admin or self.user_id == owner_id


def require_principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("Sign in first: send 'Authorization: Bearer <token>'.")
    return principal


def require_admin(principal: Principal | None) -> Principal:
    signed_in = require_principal(principal)
    if not signed_in.is_admin:
        raise Forbidden("Only an ADMIN may do this.")
    return signed_in


def require_owner(principal: Principal | None, owner_id: str, what: str) -> Principal:
    """The caller must be the owner of `what` or an ADMIN."""
    signed_in = require_principal(principal)
    if not signed_in.may_see(owner_id):
        raise Forbidden(f"This {what} belongs to another customer.")
    return signed_in


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        return Principal(user_id=str(claims["sub"]), role=Role(claims["role"]))
    except (KeyError, ValueError) as error:
        raise Unauthenticated("The token does not name a user and role.") from error


class VerifiedTokens:
    """Tokens whose signature and claims were checked, each with its caller, until it expires.

    Bounded: past `max_entries`, the oldest entry makes room. A new key set
    empties it, so a key the users service withdrew vouches for nothing more.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, token: str, now: float) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, expires_at = entry
        if now >= expires_at:
            del self._entries[token]
            return None
        return principal

    def add(self, token: str, principal: Principal, expires_at: float) -> None:
        if token not in self._entries and len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (principal, expires_at)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class TokenVerifier:
    """Verifies bearer tokens with keys fetched from a JWKS URL."""

    def __init__(
        self,
        jwks_url: str,
        *,
        max_age: float = 300.0,
        min_refetch_interval: float = 5.0,
        timeout: float = 2.0,
    ) -> None:
        self._jwks_url = jwks_url
        self._max_age = max_age
        # Tokens with made-up key ids must not make us hammer the users service.
        self._min_refetch_interval = min_refetch_interval
        self._timeout = timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._refresh_lock = asyncio.Lock()
        self._verified = VerifiedTokens()

    def use_keys(self, keys: dict[str, jwt.PyJWK]) -> None:
        """Installs keys directly: the users service verifies with its own."""
        self._keys = dict(keys)
        self._fetched_at = float("inf")
        self._verified.clear()

    async def principal_from_header(self, authorization: str | None) -> Principal | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
        return await self.verify(token.strip())

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token, time.time())
        if known is not None:
            return known
        try:
            key_id = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as error:
            raise Unauthenticated("The token is malformed.") from error
        if not isinstance(key_id, str):
            raise Unauthenticated("The token names no key id.")
        key = await self._key(key_id)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("The token has expired: sign in again.") from error
        except jwt.PyJWTError as error:
            raise Unauthenticated("The token is invalid.") from error
        principal = principal_from_claims(claims)
        self._verified.add(token, principal, expires_at=float(claims["exp"]))
        return principal

    async def _key(self, key_id: str) -> jwt.PyJWK:
        age = time.monotonic() - self._fetched_at
        unknown = key_id not in self._keys and age > self._min_refetch_interval
        if unknown or age > self._max_age:
            await self._refresh(key_id)
        key = self._keys.get(key_id)
        if key is None:
            raise Unauthenticated("The token was signed by an unknown key.")
        return key

    async def _refresh(self, key_id: str) -> None:
        async with self._refresh_lock:
            if time.monotonic() - self._fetched_at <= self._min_refetch_interval:
                return  # another request refreshed while we waited
            try:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    response = await client.get(self._jwks_url)
                    response.raise_for_status()
                key_set = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, jwt.PyJWTError, ValueError) as error:
                if self._keys:
                    return  # keep serving with the keys we have
                raise ServiceUnavailable("Cannot verify tokens: the key set is unreachable.") from error
            self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
            self._fetched_at = time.monotonic()
            self._verified.clear()
