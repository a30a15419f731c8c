"""Data requests: a regulator asks a platform for data; the platform delivers a file or JSON; overdue ones are marked once.

A delivery is streamed to a file under ``delivery_dir`` while its SHA-256 and size are counted; the row and its
event commit only once the whole body is on disk. A body that breaks off leaves no row (its partial file is
removed), and the same content sent again is answered with the first delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events.bridge import DataRequestDelivered, DataRequestIssued, DataRequestOverdue, RequestScope
from contracts.ids import new_id
from services.bridge.domain import Refused
from services.bridge.forms import DataRequestForm
from services.bridge.platforms import envelope_for
from services.bridge.request_rules import check_scope, deadline_of, is_late, is_overdue
from services.bridge.store import data_deliveries, data_requests, for_update, platforms, write_audit
from services.bridge.submissions import aware
from services.runtime.auth import Caller
from services.runtime.calendar import WorkingCalendar, china_day
from services.runtime.clock import Clock
from services.runtime.service import Service
from services.runtime.uow import UnitOfWork

log = logging.getLogger("redshield.bridge.datarequests")
SYSTEM = "system:bridge"


class RequestState:
    OPEN = "open"
    DELIVERED = "delivered"
    OVERDUE = "overdue"


class NotFound(Exception):
    pass


class TooLarge(Exception):
    pass


class NotJson(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Delivered:
    row: dict[str, Any]
    duplicate: bool


class DataRequests:
    def __init__(self, service: Service, *, clock: Clock, calendar: WorkingCalendar, delivery_dir: Path, max_bytes: int,
                 max_json_bytes: int) -> None:
        self.service = service
        self.clock = clock
        self.calendar = calendar
        self.delivery_dir = delivery_dir
        self.max_bytes = max_bytes
        self.max_json_bytes = max_json_bytes

    async def issue(self, uow: UnitOfWork, *, caller: Caller, form: DataRequestForm) -> dict[str, Any]:
        now = self.clock.now()
        platform = (await uow.conn.execute(
            sa.select(platforms.c.domicile_region).where(platforms.c.platform_id == form.platform_id))).first()
        if platform is None:
            raise Refused("platform-unknown", f"platform {form.platform_id} is not registered with the bureau", "platform_id")
        scope = check_scope(form.scope, today=china_day(now))
        deadline = deadline_of(issued_at=now, working_days=form.deadline_working_days, due=form.due, calendar=self.calendar)
        row: dict[str, Any] = {"request_id": new_id(), "platform_id": form.platform_id, "legal_basis": form.legal_basis,
               "scope": scope.model_dump(mode="json"), "due": deadline.due, "due_provisional": deadline.provisional,
               "state": RequestState.OPEN, "issued_by": caller.subject, "issued_at": now}
        await uow.conn.execute(sa.insert(data_requests).values(**row))
        await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="datarequest.issued",
                          target=f"datarequest:{row['request_id']}",
                          detail={"platform_id": form.platform_id, "legal_basis": form.legal_basis, "due": deadline.due.isoformat(),
                                  "fields": row["scope"]["fields"], "subjects": len(scope.subjects)})
        event = DataRequestIssued(request_id=row["request_id"], platform_id=form.platform_id, legal_basis=form.legal_basis,
                                  scope=scope, due=deadline.due, due_provisional=deadline.provisional, issued_by=caller.subject,
                                  issued_at=now)
        uow.publish(event.topic, envelope_for(event, subject=row["request_id"], time=now, region=platform.domicile_region,
                                              platform_id=form.platform_id))
        return row

    @staticmethod
    async def get(conn: AsyncConnection, request_id: str, *, platform_id: str | None = None) -> dict[str, Any] | None:
        stmt = sa.select(data_requests).where(data_requests.c.request_id == request_id)
        if platform_id is not None:
            stmt = stmt.where(data_requests.c.platform_id == platform_id)
        row = (await conn.execute(stmt)).first()
        return dict(row._mapping) if row else None

    @staticmethod
    async def listing(conn: AsyncConnection, *, platform_id: str | None, state: str | None, limit: int) -> list[dict[str, Any]]:
        stmt = sa.select(data_requests).order_by(data_requests.c.issued_at.desc()).limit(limit)
        if platform_id is not None:
            stmt = stmt.where(data_requests.c.platform_id == platform_id)
        if state is not None:
            stmt = stmt.where(data_requests.c.state == state)
        return [dict(r._mapping) for r in await conn.execute(stmt)]

    @staticmethod
    async def deliveries(conn: AsyncConnection, request_id: str) -> list[dict[str, Any]]:
        stmt = sa.select(data_deliveries).where(data_deliveries.c.request_id == request_id).order_by(data_deliveries.c.delivered_at)
        return [dict(r._mapping) for r in await conn.execute(stmt)]

    async def deliver(self, *, caller: Caller, request_id: str, content_type: str, body: AsyncIterator[bytes]) -> Delivered:
        """Stream ``body`` to disk, then record it (or answer the earlier delivery of the same content)."""
        assert caller.platform_id is not None
        async with self.service.uow() as uow:
            if await self.get(uow.conn, request_id, platform_id=caller.platform_id) is None:
                raise NotFound(request_id)
        fmt = "json" if content_type.split(";")[0].strip().lower() in ("application/json", "text/json") else "file"
        await asyncio.to_thread(self.delivery_dir.mkdir, parents=True, exist_ok=True)
        delivery_id = new_id()
        part = self.delivery_dir / f"{delivery_id}.part"
        final = self.delivery_dir / f"{delivery_id}.bin"
        try:
            sha256, size = await self._spool(body, part)
            if fmt == "json":
                await asyncio.to_thread(self._check_json, part, size)
            await asyncio.to_thread(os.replace, part, final)
            return await self._record(caller, request_id, delivery_id, fmt, content_type, sha256, size, final)
        except BaseException:
            await asyncio.to_thread(_remove, part, final)
            raise

    async def _spool(self, body: AsyncIterator[bytes], part: Path) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        out = await asyncio.to_thread(part.open, "wb")
        try:
            async for chunk in body:
                size += len(chunk)
                if size > self.max_bytes:
                    raise TooLarge(f"a delivery is at most {self.max_bytes} bytes")
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
            # On disk before the row that points at it commits: a crash after the commit must not lose the content.
            await asyncio.to_thread(_sync, out)
        finally:
            await asyncio.to_thread(out.close)
        return digest.hexdigest(), size

    def _check_json(self, part: Path, size: int) -> None:
        if size > self.max_json_bytes:
            raise TooLarge(f"a JSON delivery is at most {self.max_json_bytes} bytes; send larger data as a file")
        try:
            orjson.loads(part.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise NotJson(str(exc)) from exc

    async def _record(self, caller: Caller, request_id: str, delivery_id: str, fmt: str, content_type: str, sha256: str, size: int,
                      path: Path) -> Delivered:
        now = self.clock.now()
        try:
            async with self.service.uow() as uow:
                request = (await uow.conn.execute(for_update(sa.select(data_requests).where(data_requests.c.request_id == request_id),
                                                             uow.conn))).first()
                assert request is not None
                earlier = (await uow.conn.execute(sa.select(data_deliveries).where(
                    data_deliveries.c.request_id == request_id, data_deliveries.c.sha256 == sha256))).first()
                if earlier is not None:
                    await asyncio.to_thread(_remove, path)
                    return Delivered(dict(earlier._mapping), duplicate=True)
                late = is_late(request.due, now)
                row = {"delivery_id": delivery_id, "request_id": request_id, "platform_id": request.platform_id, "format": fmt,
                       "content_type": content_type[:200], "sha256": sha256, "size_bytes": size, "path": str(path), "late": late,
                       "delivered_by": caller.subject, "delivered_at": now}
                await uow.conn.execute(sa.insert(data_deliveries).values(**row))
                await uow.conn.execute(sa.update(data_requests).where(data_requests.c.request_id == request_id).values(
                    state=RequestState.DELIVERED, delivered_at=sa.func.coalesce(data_requests.c.delivered_at, now)))
                await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="datarequest.delivered",
                                  target=f"datarequest:{request_id}",
                                  detail={"delivery_id": delivery_id, "format": fmt, "sha256": sha256, "size_bytes": size, "late": late})
                region = (await uow.conn.execute(sa.select(platforms.c.domicile_region)
                                                 .where(platforms.c.platform_id == request.platform_id))).scalar_one_or_none()
                event = DataRequestDelivered(request_id=request_id, platform_id=request.platform_id, delivery_id=delivery_id,
                                             format="json" if fmt == "json" else "file", content_type=row["content_type"], sha256=sha256,
                                             size_bytes=size, delivered_at=now, late=late)
                uow.publish(event.topic, envelope_for(event, subject=request_id, time=now, region=region, platform_id=request.platform_id))
                await uow.commit()
                return Delivered(row, duplicate=False)
        except IntegrityError:
            # The same content arrived twice at once: the other one was recorded; answer with it.
            await asyncio.to_thread(_remove, path)
            async with self.service.uow() as uow:
                earlier = (await uow.conn.execute(sa.select(data_deliveries).where(
                    data_deliveries.c.request_id == request_id, data_deliveries.c.sha256 == sha256))).first()
            if earlier is None:
                raise
            return Delivered(dict(earlier._mapping), duplicate=True)

    async def mark_overdue(self) -> int:
        """Open requests past their due day become overdue: the conditional update makes it happen once per request."""
        now = self.clock.now()
        marked = 0
        async with self.service.uow() as uow:
            # Due days before today (China time) can be overdue; the exact instant is checked by the pure rule.
            candidates = (await uow.conn.execute(sa.select(data_requests.c.request_id, data_requests.c.platform_id, data_requests.c.due)
                                                 .where(data_requests.c.state == RequestState.OPEN,
                                                        data_requests.c.due < china_day(now) + _ONE_DAY))).all()
            for request_id, platform_id, due in candidates:
                if not is_overdue(due, now):
                    continue
                changed = await uow.conn.execute(sa.update(data_requests).where(
                    data_requests.c.request_id == request_id, data_requests.c.state == RequestState.OPEN).values(
                    state=RequestState.OVERDUE, overdue_at=now))
                if changed.rowcount != 1:
                    continue
                marked += 1
                await write_audit(uow.conn, at=now, actor=SYSTEM, role="system", action="datarequest.overdue",
                                  target=f"datarequest:{request_id}", detail={"due": due.isoformat(), "ground": "due day passed"})
                region = (await uow.conn.execute(sa.select(platforms.c.domicile_region)
                                                 .where(platforms.c.platform_id == platform_id))).scalar_one_or_none()
                event = DataRequestOverdue(request_id=request_id, platform_id=platform_id, due=due, overdue_at=now)
                uow.publish(event.topic, envelope_for(event, subject=request_id, time=now, region=region, platform_id=platform_id))
            await uow.commit()
        return marked


_ONE_DAY = timedelta(days=1)


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _sync(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


def request_view(row: dict[str, Any], deliveries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "request_id": row["request_id"],
        "platform_id": row["platform_id"],
        "legal_basis": row["legal_basis"],
        "scope": RequestScope.model_validate(row["scope"]).model_dump(mode="json"),
        "due": row["due"].isoformat(),
        "due_provisional": bool(row["due_provisional"]),
        "state": row["state"],
        "issued_by": row["issued_by"],
        "issued_at": aware(row["issued_at"]).isoformat(),
        "overdue_at": _time(row.get("overdue_at")),
        "delivered_at": _time(row.get("delivered_at")),
        "links": {"self": f"/v1/data-requests/{row['request_id']}", "deliveries": f"/v1/data-requests/{row['request_id']}/deliveries"},
    }
    if deliveries is not None:
        out["deliveries"] = [delivery_view(d) for d in deliveries]
    return out


def delivery_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "delivery_id": row["delivery_id"],
        "request_id": row["request_id"],
        "format": row["format"],
        "content_type": row["content_type"],
        "sha256": row["sha256"],
        "size_bytes": row["size_bytes"],
        "late": bool(row["late"]),
        "delivered_at": _time(row.get("delivered_at")),
        "links": {"content": f"/v1/data-requests/{row['request_id']}/deliveries/{row['delivery_id']}/content"},
    }


def _time(moment: datetime | None) -> str | None:
    return aware(moment).isoformat() if moment is not None else None
