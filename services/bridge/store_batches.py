"""A platform posts a batch of store records (``POST /v1/platforms/{platform_id}/stores/batch``, DSA style).

One transaction per batch: under the platform's row lock (as a submission's apply takes it, so the two never
interleave), each record is checked like a submission row, answered by its idempotency id when seen before, and
otherwise upserts its store with a store registered/updated event — built by :func:`services.bridge.apply.store_data`,
as the apply builds them — in the outbox. The batch itself is an audit row, a ``store_batches`` row holding every
result as answered, and one :class:`StoresBatchApplied` event (a data exchange) when any record was applied.
A batch closes no store: only a whole-list submission says which stores are gone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events.base import EventData
from contracts.events.bridge import StoreRegistered, StoresBatchApplied, StoreUpdated, UsccCheck
from contracts.ids import new_id
from services.bridge.apply import COMPARED, store_data
from services.bridge.deadlines import period_of
from services.bridge.domain import china_date
from services.bridge.platforms import envelope_for
from services.bridge.store import (
    STORE_FIELDS,
    for_update,
    platforms,
    store_batch_records,
    store_batches,
    stores,
    uscc_overrides,
    write_audit,
)
from services.bridge.store_batch_rules import APPLIED, Checked, Outcome, changed_fields, check_record, finding_view, outcome_for
from services.bridge.store_values import store_values
from services.bridge.submissions import aware
from services.bridge.validation import FastCheck, Finding, Severity, StoreRecord
from services.runtime.auth import Caller
from services.runtime.clock import Clock
from services.runtime.keys import FieldCipher
from services.runtime.uow import UnitOfWork


class UnknownPlatform(Exception):
    pass


class StoreBatches:
    def __init__(self, *, clock: Clock, cipher: FieldCipher, mac_key: bytes) -> None:
        self.clock = clock
        self.cipher = cipher
        self.mac_key = mac_key

    async def post(self, uow: UnitOfWork, *, caller: Caller, platform_id: str, records: list[object]) -> dict[str, Any]:
        """Apply one batch; answers the stored batch (its counts and one result per record, in order)."""
        conn = uow.conn
        now = self.clock.now()
        domicile = (await conn.execute(for_update(sa.select(platforms.c.domicile_region).where(platforms.c.platform_id == platform_id),
                                                  conn))).scalar_one_or_none()
        if domicile is None:
            raise UnknownPlatform(platform_id)
        batch_id, period = new_id(), period_of(now)
        fast = FastCheck(china_date(now))
        checked = [check_record(raw, index, fast) for index, raw in enumerate(records)]
        await _apply_overrides(conn, checked)
        earlier = await _earlier_records(conn, platform_id, {c.record_id for c in checked if c.record_id})
        current = await _current_stores(conn, platform_id, {c.verdict.record.store_id for c in checked if c.verdict.record})

        results: list[dict[str, Any]] = []
        applied_here: dict[str, dict[str, Any]] = {}
        refused_here: dict[str, int] = {}
        stores_here: dict[str, int] = {}
        remembered: list[dict[str, Any]] = []
        counts: Counter[str] = Counter()
        flagged = 0
        for c in checked:
            rid, record = c.record_id, c.verdict.record
            result: dict[str, Any] = {"index": c.index, "record_id": rid, "store_id": c.verdict.store_id}
            if rid is not None and rid in earlier:
                first = earlier[rid]
                result |= {"outcome": Outcome.DUPLICATE.value, "store_id": first["store_id"], "findings": [],
                           "original": {"batch_id": first["batch_id"], "index": first["line"], "outcome": first["outcome"],
                                        "applied_at": aware(first["applied_at"]).isoformat()}}
            elif rid is not None and rid in applied_here:
                first = applied_here[rid]
                result |= {"outcome": Outcome.DUPLICATE.value, "store_id": first["store_id"], "findings": [],
                           "original": {"batch_id": batch_id, "index": first["index"], "outcome": first["outcome"],
                                        "applied_at": now.isoformat()}}
            elif rid is not None and rid in refused_here:
                result |= _refused([Finding(c.index, Severity.ERROR, "record-id-repeated",
                                            f"record_id {rid!r} was given at index {refused_here[rid]} of this batch too", "record_id")])
            elif record is None:
                if rid is not None:
                    refused_here[rid] = c.index
                result |= _refused(c.verdict.findings)
            elif record.store_id in stores_here:
                assert rid is not None
                refused_here.setdefault(rid, c.index)
                result |= _refused([Finding(c.index, Severity.ERROR, "duplicate-store-id",
                                            f"store_id {record.store_id!r} was given at index {stores_here[record.store_id]} of this "
                                            "batch; the first stands", "store_id", record.store_id)])
            else:
                assert rid is not None
                values = self.values(record)
                outcome, changed = self._apply(uow, record, values, current.get(record.store_id), platform_id=platform_id,
                                               batch_id=batch_id, period=period, now=now)
                await _write(conn, outcome, record.store_id, values, platform_id=platform_id, batch_id=batch_id, now=now,
                             exists=record.store_id in current)
                result |= {"outcome": outcome.value, "findings": [finding_view(f) for f in c.verdict.findings]}
                if outcome is Outcome.UPDATED:
                    result["changed"] = changed
                flagged += c.flagged
                applied_here[rid] = result
                stores_here[record.store_id] = c.index
                remembered.append({"platform_id": platform_id, "record_id": rid, "batch_id": batch_id, "line": c.index,
                                   "store_id": record.store_id, "outcome": outcome.value, "applied_at": now})
            counts[result["outcome"]] += 1
            results.append(result)

        tally = {o.value: counts[o.value] for o in Outcome} | {"flagged": flagged}
        if remembered:
            await conn.execute(sa.insert(store_batch_records), remembered)
        row = {"batch_id": batch_id, "platform_id": platform_id, "period": period, "records": len(records), **tally, "results": results,
               "submitted_by": caller.subject, "received_at": now}
        await conn.execute(sa.insert(store_batches).values(**row))
        await write_audit(conn, at=now, actor=caller.subject, role=caller.role.value, action="store_batch.applied",
                          target=f"store_batch:{batch_id}", detail={"platform_id": platform_id, "period": period, "records": len(records),
                                                                    **tally})
        if any(counts[o.value] for o in APPLIED):
            event = StoresBatchApplied(platform_id=platform_id, batch_id=batch_id, period=period, received_at=now, records=len(records),
                                       **tally)
            _publish(uow, event, subject=platform_id, now=now, region=domicile, platform_id=platform_id)
        return batch_view(row)

    @staticmethod
    def _apply(uow: UnitOfWork, record: StoreRecord, values: dict[str, Any], existing: dict[str, Any] | None, *, platform_id: str,
               batch_id: str, period: str, now: datetime) -> tuple[Outcome, list[str]]:
        """The record's outcome against the stored store, and its event queued (none when unchanged)."""
        outcome = outcome_for(existing["status"] if existing else None, existing["digest"] if existing else None, values["digest"])
        data = store_data(record, platform_id=platform_id, submission_id=batch_id, period=period)
        changed: list[str] = []
        event: EventData
        if outcome is Outcome.CREATED:
            event = StoreRegistered.model_validate(data)
        elif outcome is Outcome.UPDATED:
            assert existing is not None
            changed = changed_fields(existing, values, COMPARED)
            if existing["id_number_mac"] != values["id_number_mac"]:
                changed.append("id_number")
            event = StoreUpdated.model_validate(data | {"changed": changed})
        else:
            return outcome, changed
        _publish(uow, event, subject=f"{platform_id}/{record.store_id}", now=now, region=record.region, platform_id=platform_id)
        return outcome, changed

    def values(self, record: StoreRecord) -> dict[str, Any]:
        """The store's columns (:data:`STORE_FIELDS`) for a checked record: the ID number encrypted and digested with the
        keys a submission uses, and the content digest a submission compares, so the two paths see the same store alike."""
        values = dict(zip(STORE_FIELDS, store_values(record, self.cipher, self.mac_key), strict=True))
        return values

    @staticmethod
    async def get(conn: AsyncConnection, platform_id: str, batch_id: str) -> dict[str, Any] | None:
        row = (await conn.execute(sa.select(store_batches).where(store_batches.c.batch_id == batch_id,
                                                                 store_batches.c.platform_id == platform_id))).first()
        return batch_view(dict(row._mapping)) if row else None

    @staticmethod
    async def listing(conn: AsyncConnection, platform_id: str, limit: int) -> list[dict[str, Any]]:
        stmt = (sa.select(*[c for c in store_batches.c if c.name != "results"]).where(store_batches.c.platform_id == platform_id)
                .order_by(store_batches.c.received_at.desc(), store_batches.c.batch_id.desc()).limit(limit))
        return [batch_view(dict(r._mapping)) for r in await conn.execute(stmt)]


async def _write(conn: AsyncConnection, outcome: Outcome, store_id: str, values: dict[str, Any], *, platform_id: str, batch_id: str,
                 now: datetime, exists: bool) -> None:
    if outcome is Outcome.UNCHANGED:
        return  # as in a resent submission: an unchanged store is not rewritten
    columns = values | {"status": "open", "last_submission_id": batch_id, "updated_at": now, "closed_at": None}
    if exists:
        await conn.execute(sa.update(stores).where(stores.c.platform_id == platform_id, stores.c.store_id == store_id).values(**columns))
    else:
        await conn.execute(sa.insert(stores).values(platform_id=platform_id, store_id=store_id, first_submission_id=batch_id, **columns))


def _refused(found: list[Finding]) -> dict[str, Any]:
    return {"outcome": Outcome.REFUSED.value, "findings": [finding_view(f) for f in found]}


def _publish(uow: UnitOfWork, event: EventData, *, subject: str, now: datetime, region: str | None, platform_id: str) -> None:
    uow.publish(event.topic, envelope_for(event, subject=subject, time=now, region=region, platform_id=platform_id))


async def _apply_overrides(conn: AsyncConnection, checked: list[Checked]) -> None:
    """A failing code a person already confirmed is not flagged again (as in a submission)."""
    failing = {c.verdict.record.uscc for c in checked
               if c.verdict.record is not None and c.verdict.record.uscc_check is UsccCheck.CHECK_FAILED and c.verdict.record.uscc}
    if not failing:
        return
    confirmed = set((await conn.execute(sa.select(uscc_overrides.c.uscc).where(uscc_overrides.c.uscc.in_(failing)))).scalars())
    for c in checked:
        record = c.verdict.record
        if record is not None and record.uscc in confirmed:
            c.verdict.record = replace(record, uscc_check=UsccCheck.OVERRIDDEN)
            c.verdict.findings = [f for f in c.verdict.findings if f.code != "uscc-check-failed"]


async def _earlier_records(conn: AsyncConnection, platform_id: str, record_ids: set[str]) -> dict[str, dict[str, Any]]:
    if not record_ids:
        return {}
    t = store_batch_records.c
    stmt = sa.select(store_batch_records).where(t.platform_id == platform_id, t.record_id.in_(record_ids))
    return {r.record_id: dict(r._mapping) for r in await conn.execute(stmt)}


async def _current_stores(conn: AsyncConnection, platform_id: str, store_ids: set[str]) -> dict[str, dict[str, Any]]:
    if not store_ids:
        return {}
    stmt = sa.select(stores).where(stores.c.platform_id == platform_id, stores.c.store_id.in_(store_ids))
    return {r.store_id: dict(r._mapping) for r in await conn.execute(stmt)}


def batch_view(row: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "batch_id": row["batch_id"], "platform_id": row["platform_id"], "period": row["period"],
        "received_at": aware(row["received_at"]).isoformat(), "submitted_by": row["submitted_by"], "records": row["records"],
        "counts": {name: row[name] for name in (*(o.value for o in Outcome), "flagged")},
        "links": {"self": f"/v1/platforms/{row['platform_id']}/store-batches/{row['batch_id']}"},
    }
    if "results" in row:
        view["results"] = row["results"]
    return view
