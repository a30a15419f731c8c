"""Platform API credentials: a client id and a secret shown once; only a slow salted hash of the secret is kept.

Pure functions (hashlib and secrets only): callers run :func:`hash_secret` off the event loop, since it is slow on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

#: scrypt cost: ~0.1 s per check on a server core, so a stolen table cannot be guessed through quickly.
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
HASH_BYTES: Final = 32
CLIENT_ID_PREFIX: Final = "pc_"
#: Checked against when the client id is unknown, so an unknown id costs as long as a wrong secret.
_DECOY_SALT: Final = b"redshield-decoy-salt"


@dataclass(frozen=True, slots=True)
class Minted:
    client_id: str
    secret: str
    salt: bytes
    digest: bytes


def hash_secret(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES)


def new_secret() -> tuple[str, bytes, bytes]:
    """A fresh secret, its salt and its hash."""
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    return secret, salt, hash_secret(secret, salt)


def mint() -> Minted:
    secret, salt, digest = new_secret()
    return Minted(CLIENT_ID_PREFIX + secrets.token_hex(8), secret, salt, digest)


def matches(secret: str, salt: bytes | None, digest: bytes | None) -> bool:
    """Whether ``secret`` is the one hashed to ``digest``; constant time, and as slow for an unknown client (no salt)."""
    computed = hash_secret(secret, salt if salt is not None else _DECOY_SALT)
    return hmac.compare_digest(computed, digest if digest is not None else bytes(HASH_BYTES)) and digest is not None


def basic_credentials(header: str) -> tuple[str, str] | None:
    """client id and secret from an HTTP Basic header (RFC 6749 §2.3.1), or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None
