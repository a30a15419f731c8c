"""Platform API credentials: a regulator issues, rotates and revokes them; a platform exchanges one for a short-lived JWT.

The secret is returned once, at issue or rotation; the table keeps only its scrypt hash. Every issue, rotation and
revocation is an audit row (the secret never is).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.bridge.credential_rules import matches, mint, new_secret
from services.bridge.store import for_update, platform_credentials, platforms, write_audit
from services.bridge.submissions import aware
from services.runtime.auth import Caller, Role, issue
from services.runtime.clock import Clock
from services.runtime.service import Service


class UnknownPlatform(Exception):
    pass


class UnknownCredential(Exception):
    pass


class InvalidClient(Exception):
    """Wrong client id, wrong secret or a revoked credential: told apart only in the log, never to the caller."""


@dataclass(frozen=True, slots=True)
class Shown:
    """A credential with its secret, the one time it is shown."""

    row: dict[str, Any]
    secret: str


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str
    expires_in: int
    platform_id: str


class Credentials:
    def __init__(self, service: Service, *, clock: Clock, token_ttl_s: int) -> None:
        self.service = service
        self.clock = clock
        self.token_ttl_s = token_ttl_s

    async def issue(self, *, caller: Caller, platform_id: str) -> Shown:
        minted = await asyncio.to_thread(mint)
        now = self.clock.now()
        async with self.service.uow() as uow:
            if (await uow.conn.execute(sa.select(platforms.c.platform_id).where(platforms.c.platform_id == platform_id))).first() is None:
                raise UnknownPlatform(platform_id)
            row = {"client_id": minted.client_id, "platform_id": platform_id, "salt": minted.salt, "secret_hash": minted.digest,
                   "state": "active", "issued_by": caller.subject, "issued_at": now}
            await uow.conn.execute(sa.insert(platform_credentials).values(**row))
            await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="credential.issued",
                              target=f"credential:{minted.client_id}", detail={"platform_id": platform_id})
            await uow.commit()
        return Shown(row, minted.secret)

    async def rotate(self, *, caller: Caller, platform_id: str, client_id: str) -> Shown:
        secret, salt, digest = await asyncio.to_thread(new_secret)
        now = self.clock.now()
        async with self.service.uow() as uow:
            row = await self._active(uow.conn, platform_id, client_id)
            await uow.conn.execute(sa.update(platform_credentials).where(platform_credentials.c.client_id == client_id)
                                   .values(salt=salt, secret_hash=digest, rotated_at=now))
            await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="credential.rotated",
                              target=f"credential:{client_id}", detail={"platform_id": platform_id})
            await uow.commit()
        return Shown(row | {"rotated_at": now}, secret)

    async def revoke(self, *, caller: Caller, platform_id: str, client_id: str, reason: str) -> dict[str, Any]:
        now = self.clock.now()
        async with self.service.uow() as uow:
            row = await self._row(uow.conn, platform_id, client_id, lock=True)
            if row["state"] == "revoked":
                return row
            await uow.conn.execute(sa.update(platform_credentials).where(platform_credentials.c.client_id == client_id)
                                   .values(state="revoked", revoked_at=now))
            await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="credential.revoked",
                              target=f"credential:{client_id}", detail={"platform_id": platform_id, "reason": reason})
            await uow.commit()
        return row | {"state": "revoked", "revoked_at": now}

    async def listing(self, conn: AsyncConnection, platform_id: str) -> list[dict[str, Any]]:
        stmt = sa.select(platform_credentials).where(platform_credentials.c.platform_id == platform_id).order_by(
            platform_credentials.c.issued_at, platform_credentials.c.client_id)
        return [dict(r._mapping) for r in await conn.execute(stmt)]

    async def exchange(self, client_id: str, secret: str, signing_key: str, issuer: str) -> Token:
        """The OAuth2 client-credentials grant: a valid, active credential becomes a platform JWT of ``token_ttl_s``."""
        async with self.service.uow() as uow:
            found = (await uow.conn.execute(sa.select(platform_credentials).where(platform_credentials.c.client_id == client_id))).first()
        row = dict(found._mapping) if found else None
        # The hash is computed whatever was found, so the answer's timing does not tell a known client id from an unknown one.
        good = await asyncio.to_thread(matches, secret, row["salt"] if row else None, row["secret_hash"] if row else None)
        if row is None or not good or row["state"] != "active":
            raise InvalidClient("unknown client" if row is None else "revoked" if good else "wrong secret")
        async with self.service.uow() as uow:
            await uow.conn.execute(sa.update(platform_credentials).where(platform_credentials.c.client_id == client_id)
                                   .values(last_used_at=self.clock.now()))
            await uow.commit()
        token = issue(signing_key, role=Role.PLATFORM, subject=f"client:{client_id}", platform_id=row["platform_id"],
                      ttl_seconds=self.token_ttl_s, issuer=issuer)
        return Token(token, self.token_ttl_s, row["platform_id"])

    async def _active(self, conn: AsyncConnection, platform_id: str, client_id: str) -> dict[str, Any]:
        row = await self._row(conn, platform_id, client_id, lock=True)
        if row["state"] != "active":
            raise UnknownCredential(client_id)
        return row

    @staticmethod
    async def _row(conn: AsyncConnection, platform_id: str, client_id: str, *, lock: bool = False) -> dict[str, Any]:
        stmt = sa.select(platform_credentials).where(platform_credentials.c.client_id == client_id,
                                                     platform_credentials.c.platform_id == platform_id)
        found = (await conn.execute(for_update(stmt, conn) if lock else stmt)).first()
        if found is None:
            raise UnknownCredential(client_id)
        return dict(found._mapping)


def credential_view(row: dict[str, Any], secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"client_id": row["client_id"], "platform_id": row["platform_id"], "state": row["state"],
                           "issued_by": row["issued_by"]}
    for name in ("issued_at", "rotated_at", "revoked_at", "last_used_at"):
        out[name] = aware(row[name]).isoformat() if row.get(name) is not None else None
    if secret is not None:
        out["client_secret"] = secret
    return out
