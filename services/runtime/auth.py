"""Bearer JWTs: a role and a scope claim (platform_id or region) for every caller."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

import jwt

from services.runtime.keys import dev_secret
from services.runtime.settings import SharedSettings

ALGORITHM = "HS256"


class Role(StrEnum):
    PLATFORM = "platform"
    BUREAU = "bureau"
    REGULATOR = "regulator"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    role: Role
    platform_id: str | None = None
    region: str | None = None


class AuthError(Exception):
    pass


def signing_key(shared: SharedSettings) -> str:
    """The configured key; in dev and test a random key kept under ``var/`` so every process shares it."""
    return dev_secret(shared, "REDSHIELD_JWT_SECRET", shared.jwt_secret)


def issue(
    key: str,
    *,
    role: Role,
    subject: str,
    platform_id: str | None = None,
    region: str | None = None,
    ttl_seconds: int = 12 * 3600,
    issuer: str = "redshield",
) -> str:
    if role is Role.PLATFORM and not platform_id:
        raise ValueError("a platform token needs --platform")
    if role is Role.BUREAU and not region:
        raise ValueError("a bureau token needs --region")
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl_seconds, "iss": issuer}
    if platform_id:
        claims["platform_id"] = platform_id
    if region:
        claims["region"] = region
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(key: str, token: str, issuer: str = "redshield") -> Caller:
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=issuer, options={"require": ["exp", "sub", "iss"]})
        role = Role(claims["role"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise AuthError(str(exc) or "invalid token") from exc
    platform_id = claims.get("platform_id")
    region = claims.get("region")
    if role is Role.PLATFORM and not platform_id:
        raise AuthError("platform token without platform_id")
    if role is Role.BUREAU and not region:
        raise AuthError("bureau token without region")
    return Caller(subject=str(claims["sub"]), role=role, platform_id=platform_id, region=region)
