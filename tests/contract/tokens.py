"""The suite's own token issuer: an Ed25519 key, its JWKS served over HTTP, and tokens signed with it.

The implementation under test is pointed at this JWKS (`JWKS_URL`), exactly as
it is pointed at the users service's in a real stack, so every token the suite
mints is one the implementation must verify itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ISSUER = "shopgraph-users"
AUDIENCE = "shopgraph"


@dataclass(frozen=True)
class Caller:
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


class Issuer:
    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        public = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
        self.key_id = _b64url(hashlib.sha256(json.dumps(public, separators=(",", ":")).encode()).digest())
        self.jwks: dict[str, Any] = {"keys": [{**public, "kid": self.key_id, "alg": "EdDSA", "use": "sig"}]}

    def token(self, user_id: str, role: str, *, ttl: int = 3600, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "role": role,
            "iat": now,
            "exp": now + ttl,
            **overrides,
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.key_id})

    def caller(self, role: str = "CUSTOMER") -> Caller:
        user_id = uuid.uuid4().hex
        return Caller(user_id, self.token(user_id, role))


@contextmanager
def serving_jwks(issuer: Issuer) -> Iterator[str]:
    """Serves the issuer's JWKS on a free loopback port; yields its URL."""
    body = json.dumps(issuer.jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/.well-known/jwks.json"
            self.send_response(200 if found else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
