"""The Zhejiang Fair Online (浙江公平在线) adapter: items the province assigns come in (HTTP or its Kafka topic), each
becomes a clue on ``bridge.faironline.v1``; an officer's outcome goes back (the province's topic and a poll list).

Both ways are idempotent: the province's item id makes a resent item the same item, and an item has one outcome,
so a resent outcome is answered with the recorded one. Every item and outcome is an audit row and an event.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson
import sqlalchemy as sa
from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope
from contracts.events.bridge import (
    FAIRONLINE_OUTCOMES,
    FairOnlineAssignment,
    FairOnlineItemAssigned,
    FairOnlineOutcome,
    FairOnlineOutcomeRecord,
    FairOnlineOutcomeReturned,
)
from services.bridge.faironline_rules import BadAssignment, Outcome, area_stem, in_area, parse_assignment, same_outcome
from services.bridge.platforms import SOURCE, envelope_for
from services.bridge.store import fair_online_items, fair_online_outcomes, for_update, platforms, write_audit
from services.bridge.submissions import aware
from services.runtime.auth import Caller, Role
from services.runtime.clock import Clock
from services.runtime.consumer import DeadLetters, Delivery, Rejected, ReliableConsumer
from services.runtime.keys import dev_secret
from services.runtime.service import Service
from services.runtime.settings import PLACEHOLDER_SECRETS, SettingsError, SharedSettings
from services.runtime.uow import UnitOfWork

log = logging.getLogger("redshield.bridge.faironline")

PROVINCE: Final = "system:zj-fair-online"
PROVINCE_ROLE: Final = "province"
CONSUMER: Final = "bridge-faironline"
#: Who may see every item and record outcomes anywhere; a bureau sees and decides the items of its own area.
DECIDERS: Final = (Role.BUREAU, Role.REGULATOR, Role.ADMIN)
Via = Literal["http", "kafka"]


class UnknownItem(Exception):
    pass


class OutcomeConflict(Exception):
    """The item already has a different outcome: the province has received it, so it is not silently replaced."""

    def __init__(self, recorded: dict[str, Any]) -> None:
        super().__init__(recorded["outcome"])
        self.recorded = recorded


@dataclass(frozen=True, slots=True)
class Taken:
    row: dict[str, Any]
    new: bool


def provincial_credential(shared: SharedSettings, configured: str | None) -> str:
    """The secret the provincial system presents. Outside dev a placeholder or short one stops the service."""
    if configured is not None and shared.env != "dev" and (configured.strip().lower() in PLACEHOLDER_SECRETS or len(configured) < 32):
        raise SettingsError("REDSHIELD_BRIDGE_FAIRONLINE_TOKEN must be a real secret (32+ characters) outside dev")
    return dev_secret(shared, "REDSHIELD_BRIDGE_FAIRONLINE_TOKEN", configured)


def is_province(presented: str, expected: str) -> bool:
    # Constant time: the comparison must not tell a guesser how many leading characters were right.
    return hmac.compare_digest(presented.encode(), expected.encode())


def may_see(caller: Caller, region: str) -> bool:
    if caller.role in (Role.REGULATOR, Role.ADMIN):
        return True
    return caller.role is Role.BUREAU and in_area(caller.region, region)


class FairOnline:
    def __init__(self, service: Service, *, clock: Clock) -> None:
        self.service = service
        self.clock = clock

    # -- the province → the bureau ------------------------------------------------------------------------------
    async def take_in(self, uow: UnitOfWork, item: FairOnlineAssignment, *, via: Via) -> Taken:
        earlier = await self.get(uow.conn, item.item_id)
        if earlier is not None:
            return Taken(earlier, new=False)
        now = self.clock.now()
        platform_id = None
        if item.platform_uscc is not None:
            platform_id = (await uow.conn.execute(sa.select(platforms.c.platform_id).where(platforms.c.uscc == item.platform_uscc)
                                                  .order_by(platforms.c.platform_id).limit(1))).scalar_one_or_none()
        row: dict[str, Any] = item.model_dump() | {"platform_id": platform_id, "received_via": via, "received_at": now,
                                                    "state": "assigned"}
        await uow.conn.execute(sa.insert(fair_online_items).values(**row))
        await write_audit(uow.conn, at=now, actor=PROVINCE, role=PROVINCE_ROLE, action="fair_online.assigned",
                          target=f"fair_online_item:{item.item_id}",
                          detail={"via": via, "category": item.category, "region": item.region, "platform_id": platform_id,
                                  "assigned_at": item.assigned_at.isoformat(), "due": item.due.isoformat() if item.due else None})
        event = FairOnlineItemAssigned(**item.model_dump(), platform_id=platform_id, received_via=via, received_at=now)
        uow.publish(event.topic, envelope_for(event, subject=item.item_id, time=now, region=item.region, platform_id=platform_id))
        return Taken(row, new=True)

    # -- the bureau → the province ------------------------------------------------------------------------------
    async def record_outcome(self, uow: UnitOfWork, *, caller: Caller, item_id: str, outcome: Outcome) -> Taken:
        stmt = sa.select(fair_online_items).where(fair_online_items.c.item_id == item_id)
        found = (await uow.conn.execute(for_update(stmt, uow.conn))).first()
        if found is None or not may_see(caller, found.region):
            raise UnknownItem(item_id)
        recorded = await self.outcome_of(uow.conn, item_id)
        if recorded is not None:
            if same_outcome(_as_outcome(recorded), outcome):
                return Taken(recorded, new=False)
            raise OutcomeConflict(recorded)
        now = self.clock.now()
        unit = caller.region if caller.role is Role.BUREAU and caller.region else found.region
        values: dict[str, Any] = {"item_id": item_id, "outcome": outcome.outcome.value, "reasons": list(outcome.reasons),
                                  "case_number": outcome.case_number, "unit": unit, "decided_by": caller.subject, "decided_at": now}
        await uow.conn.execute(sa.insert(fair_online_outcomes).values(**values))
        await uow.conn.execute(sa.update(fair_online_items).where(fair_online_items.c.item_id == item_id).values(state="returned"))
        await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="fair_online.outcome_returned",
                          target=f"fair_online_item:{item_id}",
                          detail={"outcome": outcome.outcome.value, "reasons": list(outcome.reasons), "case_number": outcome.case_number})
        event = FairOnlineOutcomeReturned(item_id=item_id, outcome=outcome.outcome, reasons=list(outcome.reasons),
                                          case_number=outcome.case_number, region=found.region, decided_by=caller.subject, returned_at=now)
        uow.publish(event.topic, envelope_for(event, subject=item_id, time=now, region=found.region, platform_id=found.platform_id))
        # The province's own topic carries its own schema as the record value; the CloudEvents headers only add to it.
        record = outcome_record(values)
        uow.publish(FAIRONLINE_OUTCOMES, Envelope(type=FairOnlineOutcomeReturned.event_type, source=SOURCE, subject=item_id,
                                                  data=record.model_dump(mode="json"), time=now, region=found.region))
        row = await self.outcome_of(uow.conn, item_id)
        assert row is not None
        return Taken(row, new=True)

    # -- reads ----------------------------------------------------------------------------------------------------
    @staticmethod
    async def get(conn: AsyncConnection, item_id: str) -> dict[str, Any] | None:
        row = (await conn.execute(sa.select(fair_online_items).where(fair_online_items.c.item_id == item_id))).first()
        return dict(row._mapping) if row else None

    @staticmethod
    async def outcome_of(conn: AsyncConnection, item_id: str) -> dict[str, Any] | None:
        row = (await conn.execute(sa.select(fair_online_outcomes).where(fair_online_outcomes.c.item_id == item_id))).first()
        return dict(row._mapping) if row else None

    @staticmethod
    async def items(conn: AsyncConnection, caller: Caller, *, state: str | None, limit: int) -> list[dict[str, Any]]:
        stmt = sa.select(fair_online_items).order_by(fair_online_items.c.received_at.desc(), fair_online_items.c.item_id).limit(limit)
        if caller.role is Role.BUREAU:
            stmt = stmt.where(fair_online_items.c.region.startswith(area_stem(caller.region or "")))
        if state is not None:
            stmt = stmt.where(fair_online_items.c.state == state)
        return [dict(r._mapping) for r in await conn.execute(stmt)]

    @staticmethod
    async def outcomes_after(conn: AsyncConnection, after: int, limit: int) -> list[dict[str, Any]]:
        stmt = sa.select(fair_online_outcomes).where(fair_online_outcomes.c.seq > after).order_by(fair_online_outcomes.c.seq).limit(limit)
        return [dict(r._mapping) for r in await conn.execute(stmt)]

    # -- the province's Kafka topic ---------------------------------------------------------------------------------
    async def on_assignments(self, batch: Sequence[Delivery]) -> Sequence[tuple[Delivery, Rejected]]:
        async with self.service.uow() as uow:
            for delivery in batch:
                await self.take_in(uow, FairOnlineAssignment.model_validate(delivery.envelope.data), via="kafka")
            await uow.commit()
        return ()


class AssignmentConsumer(ReliableConsumer):
    """Reads the province's topic: its records are plain JSON in its schema, not our CloudEvents, so they are
    checked against that schema here (a bad one to the DLQ with every field at fault) before the usual retries."""

    async def on_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        good: list[Delivery] = []
        for record in records:
            try:
                item = parse_assignment(orjson.loads(record.value or b""))
            except orjson.JSONDecodeError as exc:
                await self.dead_letters.send(record, "not-json", f"record value is not JSON: {exc}", attempts=0)
                continue
            except BadAssignment as exc:
                await self.dead_letters.send(record, "invalid-assignment", str(exc), attempts=0)
                continue
            envelope = Envelope(type=FairOnlineItemAssigned.event_type, source=PROVINCE, subject=item.item_id,
                                data=item.model_dump(mode="json"), id=f"faironline:{item.item_id}")
            good.append(Delivery(record, envelope, str(record.topic).removeprefix(self.topic_prefix)))
        if good:
            await self._apply(good)


def assignment_consumer(service: Service, adapter: FairOnline) -> AssignmentConsumer:
    prefix = service.settings.topic_prefix
    return AssignmentConsumer(service=service.name, consumer=CONSUMER, handler=adapter.on_assignments,
                              dead_letters=DeadLetters(service.producer, service=service.name, consumer=CONSUMER, topic_prefix=prefix),
                              topic_prefix=prefix, max_attempts=service.settings.consumer_max_attempts,
                              retry_backoff=service.settings.consumer_retry_backoff_ms / 1000)


def _as_outcome(row: dict[str, Any]) -> Outcome:
    return Outcome(FairOnlineOutcome(row["outcome"]), tuple(row["reasons"]), row["case_number"])


def outcome_record(row: dict[str, Any]) -> FairOnlineOutcomeRecord:
    return FairOnlineOutcomeRecord(item_id=row["item_id"], outcome=FairOnlineOutcome(row["outcome"]), reasons=list(row["reasons"]),
                                   case_number=row["case_number"], unit=row["unit"], decided_at=aware(row["decided_at"]))


def item_view(row: dict[str, Any], outcome: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in row.items()}
    out["assigned_at"] = aware(row["assigned_at"]).isoformat()
    out["received_at"] = aware(row["received_at"]).isoformat()
    out["due"] = row["due"].isoformat() if row.get("due") else None
    if outcome is not None:
        out["outcome"] = outcome_view(outcome)
    out["links"] = {"self": f"/v1/fair-online/items/{row['item_id']}", "outcome": f"/v1/fair-online/items/{row['item_id']}/outcome"}
    return out


def outcome_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"seq": row["seq"], **outcome_record(row).model_dump(mode="json"), "decided_by": row["decided_by"]}
