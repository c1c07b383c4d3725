"""Signing tokens with an Ed25519 key and publishing its public half as a JWKS.

The users service is the only production signer. Tests of the other services
sign with a key of their own and hand its public half to their verifier.
"""

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shopkit.auth import AUDIENCE, ISSUER, Role


class TokenSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        public_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._public_jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(public_raw)}
        # RFC 7638 thumbprint: stable across restarts for the same key.
        thumbprint_input = json.dumps(self._public_jwk, separators=(",", ":"), sort_keys=True).encode()
        self.key_id = _b64url(hashlib.sha256(thumbprint_input).digest())

    @classmethod
    def generate(cls) -> "TokenSigner":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem_file(cls, path: Path, *, create: bool) -> "TokenSigner":
        """Loads the key; with `create`, generates and saves one if the file is missing."""
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"no signing key at {path}")
            key = Ed25519PrivateKey.generate()
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            path.touch(mode=0o600)
            path.write_bytes(pem)
            return cls(key)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(loaded)

    def issue(self, user_id: str, role: Role, ttl: timedelta = timedelta(hours=1)) -> str:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "role": role.value,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, self._private_key, algorithm="EdDSA", headers={"kid": self.key_id})

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self._public_jwk, "kid": self.key_id, "alg": "EdDSA", "use": "sig"}]}

    def public_keys(self) -> dict[str, jwt.PyJWK]:
        return {self.key_id: jwt.PyJWK.from_dict(self.jwks()["keys"][0])}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
