"""channel's tables and the queries its use cases run inside a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.codes import FilingKind, RuleSet
from contracts.events.channel import ComplaintClosed, ComplaintState, DeadlineKind, MediationEndGround
from contracts.ids import new_id
from services.channel.domain import FINAL_STATES, Complaint, OpenDeadline, Step, Track
from services.runtime.calendar import Deadline
from services.runtime.keys import FieldCipher
from services.runtime.tables import metadata

complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("complaint_id", sa.String(36), primary_key=True),
    sa.Column("platform_id", sa.String(32), nullable=False),
    sa.Column("platform_complaint_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("intake", sa.String(16), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rule_set", sa.String(32), nullable=False),
    sa.Column("region", sa.String(6), nullable=False),
    sa.Column("store_id", sa.String(200), nullable=False),
    sa.Column("store_name", sa.String(200), nullable=False),
    sa.Column("merchant_uscc", sa.String(18)),
    sa.Column("merchant_region", sa.String(6)),
    sa.Column("order_id", sa.String(200)),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Column("goods_category", sa.String(200), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    # Personal data: encrypted at rest, never in events or analytics.
    sa.Column("consumer_name_enc", sa.LargeBinary),
    sa.Column("consumer_phone_enc", sa.LargeBinary),
    sa.Column("consumer_hash", sa.String(64)),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # Facts the state machine's rules depend on (see domain.Track).
    sa.Column("accepted_at", sa.DateTime(timezone=True)),
    sa.Column("answered_at", sa.DateTime(timezone=True)),
    sa.Column("verification_extended", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("mediation_end_ground", sa.String(32)),
    sa.Column("closing_outcome", sa.String(32)),
    sa.Column("state_changed_at", sa.DateTime(timezone=True)),
    #: Bumped by every transition: a compare-and-set guard against two writers moving the same item.
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    #: "whole", or which part of a mixed filing this item is ("complaint", "report"); the other part is linked.
    sa.Column("filing_part", sa.String(16), nullable=False, server_default="whole"),
    sa.Column("linked_complaint_id", sa.String(36)),
    #: Keyed hash of the item's receipt code (the code itself is derived, never stored: see receipts.py).
    sa.Column("receipt_hash", sa.String(64)),
    #: An officer's intake: "<bureau region>/<intake id>", the key that makes the officer's filing idempotent.
    sa.Column("intake_key", sa.String(120)),
    sa.Column("consumer_address_enc", sa.LargeBinary),
    # Salted hashes for the professional-claimant patterns: compared, never reversed.
    sa.Column("consumer_name_hash", sa.String(64)),
    sa.Column("consumer_address_hash", sa.String(64)),
    #: The store's region in bridge's directory where it differs from the one the filing published: the filing's
    #: wins (DOMAIN.md), and the bureau sees the conflict. None: no conflict known.
    sa.Column("jurisdiction_conflict", sa.String(6)),
    #: While the mediation clock is stopped: since when (mediation_pauses holds each pause).
    sa.Column("mediation_paused_at", sa.DateTime(timezone=True)),
    #: The filing's attachments by digest, size and media type (the files stay with the platform).
    sa.Column("attachments", sa.JSON),
    sa.UniqueConstraint("platform_id", "platform_complaint_id", "filing_part", name="uq_complaints_platform_item"),
    sa.Index("ix_complaints_platform_created", "platform_id", "created_at"),
    sa.Index("ix_complaints_platform_state", "platform_id", "state", "complaint_id"),
    sa.Index("uq_complaints_receipt", "receipt_hash", unique=True),
    sa.Index("uq_complaints_intake_key", "intake_key", unique=True),
    sa.Index("ix_complaints_consumer", "consumer_hash", "created_at"),
    sa.Index("ix_complaints_consumer_address", "consumer_address_hash", "created_at"),
    # The lists by role, newest first (migration 0004): all items, one platform's, one region's, one state's.
    sa.Index("ix_complaints_received", "received_at", "complaint_id"),
    sa.Index("ix_complaints_platform_received", "platform_id", "received_at", "complaint_id"),
    sa.Index("ix_complaints_region_received", "region", "received_at", "complaint_id"),
    sa.Index("ix_complaints_state_received", "state", "received_at", "complaint_id"),
)

#: The facts of every report, and of each repeat of it: same facts are kept but not handled again; new facts
#: are merged into the open report. Also what makes a repeat filing idempotent by its own id.
facts = sa.Table(
    "complaint_facts",
    metadata,
    sa.Column("fact_id", sa.String(36), primary_key=True),
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
    sa.Column("platform_id", sa.String(32), nullable=False),
    sa.Column("platform_complaint_id", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("facts_digest", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    #: False for the report's own facts and for a repeat of facts already known.
    sa.Column("merged", sa.Boolean, nullable=False),
    sa.UniqueConstraint("platform_id", "platform_complaint_id", name="uq_complaint_facts_filing"),
    sa.Index("ix_complaint_facts_complaint", "complaint_id"),
)

#: Professional-claimant flags: raised at intake for a person to review, cleared by an officer with a reason.
flags = sa.Table(
    "complaint_flags",
    metadata,
    sa.Column("flag_id", sa.String(36), primary_key=True),
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
    sa.Column("pattern", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(300), nullable=False),
    sa.Column("rule_id", sa.String(100), nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cleared_at", sa.DateTime(timezone=True)),
    sa.Column("cleared_by", sa.String(200)),
    sa.Column("clear_reason", sa.Text),
    sa.Index("ix_complaint_flags_complaint", "complaint_id"),
    sa.Index("ix_complaint_flags_raised", "raised_at"),
)

#: Each stop of the mediation clock (testing, appraisal, identification), open until resumed.
mediation_pauses = sa.Table(
    "mediation_pauses",
    metadata,
    sa.Column("pause_id", sa.String(36), primary_key=True),
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("paused_by", sa.String(200), nullable=False),
    sa.Column("resumed_at", sa.DateTime(timezone=True)),
    sa.Column("resumed_by", sa.String(200)),
    sa.Index("ix_mediation_pauses_complaint", "complaint_id"),
)

#: Sessions held in mediation; the summary stays here (events carry when, form and who took part).
mediation_sessions = sa.Table(
    "mediation_sessions",
    metadata,
    sa.Column("session_id", sa.String(36), primary_key=True),
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
    sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("form", sa.String(16), nullable=False),
    sa.Column("parties", sa.JSON, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_mediation_sessions_complaint", "complaint_id", "held_at"),
)

#: bridge's directory, kept from its events on bridge.subjects.v1 (directory.py): where platforms are domiciled,
#: whether they take part in the canal, and where their stores are.
directory_platforms = sa.Table(
    "directory_platforms",
    metadata,
    sa.Column("platform_id", sa.String(32), primary_key=True),
    sa.Column("domicile_region", sa.String(6), nullable=False),
    sa.Column("connected_to_canal", sa.Boolean, nullable=False),
    #: bridge's registry version: an older event arriving late never overwrites a newer entry.
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

directory_stores = sa.Table(
    "directory_stores",
    metadata,
    sa.Column("platform_id", sa.String(32), primary_key=True),
    sa.Column("store_id", sa.String(200), primary_key=True),
    sa.Column("region", sa.String(6), nullable=False),
    sa.Column("uscc", sa.String(18)),
    sa.Column("closed", sa.Boolean, nullable=False),
    #: The time of the event the row comes from: stores carry no version, so the later event wins.
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
)

deadlines = sa.Table(
    "complaint_deadlines",
    metadata,
    sa.Column("deadline_id", sa.String(36), primary_key=True),
    sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("rule_id", sa.String(100), nullable=False),
    sa.Column("due", sa.Date, nullable=False),
    sa.Column("provisional", sa.Boolean, nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("approaching_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    # One flag per notice: set in the transaction that writes the notice's event to the outbox, so each
    # goes out exactly once however often the scheduler runs or restarts.
    sa.Column("approaching_sent_at", sa.DateTime(timezone=True)),
    sa.Column("missed_sent_at", sa.DateTime(timezone=True)),
    #: Set when the item leaves the state the deadline belongs to (met, or acted on when missed).
    sa.Column("closed_at", sa.DateTime(timezone=True)),
)

audit = sa.Table(
    "complaint_audit",
    metadata,
    sa.Column("seq", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    sa.Column("complaint_id", sa.String(36), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor_role", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("from_state", sa.String(32), nullable=False),
    sa.Column("to_state", sa.String(32), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("ground", sa.String(200)),
    sa.Column("detail", sa.Text),
    sa.Column("rule_id", sa.String(100)),
)


def complaint_row(complaint: Complaint, cipher: FieldCipher) -> dict[str, Any]:
    f = complaint.filing
    mixed = complaint.linked_complaint_id is not None
    return {
        "complaint_id": complaint.complaint_id,
        "platform_id": complaint.platform_id,
        "platform_complaint_id": f.platform_complaint_id,
        "kind": complaint.kind.value,  # a part of a mixed filing is stored as what it is
        "intake": complaint.intake.value,
        "received_at": utc(f.received_at),  # UTC like every stored moment: lists are ordered by it
        "rule_set": complaint.rule_set.value,
        "region": complaint.region,
        "store_id": f.merchant.store_id,
        "store_name": f.merchant.store_name,
        "merchant_uscc": f.merchant.uscc,
        "merchant_region": f.merchant.region,
        "order_id": f.order.order_id,
        "amount": f.order.amount,
        "goods_category": f.order.goods_category,
        "category": f.category.value,
        "description": f.description,
        "consumer_name_enc": cipher.encrypt(f.consumer.name) if f.consumer else None,
        "consumer_phone_enc": cipher.encrypt(f.consumer.phone) if f.consumer else None,
        "consumer_hash": complaint.consumer_hash,
        "consumer_address_enc": cipher.encrypt(f.consumer.address) if f.consumer else None,
        "state": complaint.state.value,
        "created_at": utc(complaint.created_at),
        "filing_part": complaint.kind.value if mixed else "whole",
        "linked_complaint_id": complaint.linked_complaint_id,
        "jurisdiction_conflict": complaint.jurisdiction_conflict,
        "attachments": [a.model_dump() for a in f.attachments] if f.attachments else None,
    }


@dataclass(frozen=True, slots=True)
class Known:
    """What a platform already filed under one of its ids: the item, its other part, or the report it repeated."""

    complaint_id: str
    kind: str
    linked_complaint_id: str | None = None
    #: "same_facts" or "new_facts" when the filing was a repeat report merged into ``complaint_id``.
    repeat: str | None = None


async def existing_ids(conn: AsyncConnection, platform_id: str, platform_complaint_ids: list[str]) -> dict[str, Known]:
    """platform_complaint_id → what became of it, for the filings this platform already made."""
    if not platform_complaint_ids:
        return {}
    rows = await conn.execute(
        sa.select(complaints.c.platform_complaint_id, complaints.c.complaint_id, complaints.c.kind, complaints.c.filing_part,
                  complaints.c.linked_complaint_id).where(
            complaints.c.platform_id == platform_id, complaints.c.platform_complaint_id.in_(platform_complaint_ids),
            # A mixed filing answers with its complaint part, which names the report part.
            complaints.c.filing_part != "report",
        )
    )
    found = {row.platform_complaint_id: Known(row.complaint_id, row.kind, row.linked_complaint_id) for row in rows}
    repeats = await conn.execute(
        sa.select(facts.c.platform_complaint_id, facts.c.complaint_id, facts.c.merged).where(
            facts.c.platform_id == platform_id, facts.c.platform_complaint_id.in_(platform_complaint_ids)
        )
    )
    for row in repeats:
        found.setdefault(row.platform_complaint_id, Known(row.complaint_id, "report", None, "new_facts" if row.merged else "same_facts"))
    return found


async def by_intake_key(conn: AsyncConnection, intake_key: str) -> Known | None:
    row = (await conn.execute(
        sa.select(complaints.c.complaint_id, complaints.c.kind, complaints.c.linked_complaint_id)
        .where(complaints.c.intake_key == intake_key, complaints.c.filing_part != "report")
    )).first()
    return Known(row.complaint_id, row.kind, row.linked_complaint_id) if row else None


async def open_reports(conn: AsyncConnection, consumer_hashes: Sequence[str]) -> list[dict[str, Any]]:
    """Reports under verification by these reporters, with the digests of the facts each already has."""
    if not consumer_hashes:
        return []
    rows = (await conn.execute(
        sa.select(complaints.c.complaint_id, complaints.c.consumer_hash, complaints.c.platform_id, complaints.c.store_id,
                  complaints.c.merchant_uscc, facts.c.facts_digest)
        .select_from(complaints.outerjoin(facts, facts.c.complaint_id == complaints.c.complaint_id))
        .where(complaints.c.consumer_hash.in_(set(consumer_hashes)), complaints.c.kind == "report",
               complaints.c.state == ComplaintState.VERIFICATION.value)
        .order_by(complaints.c.complaint_id)
    )).all()
    by_item: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = by_item.setdefault(row.complaint_id, {"complaint_id": row.complaint_id, "consumer_hash": row.consumer_hash,
                                                     "platform_id": row.platform_id, "store_id": row.store_id,
                                                     "merchant_uscc": row.merchant_uscc, "facts": set()})
        if row.facts_digest:
            item["facts"].add(row.facts_digest)
    return list(by_item.values())


async def claimant_history(conn: AsyncConnection, consumer_hashes: Sequence[str], address_hashes: Sequence[str],
                           since: datetime) -> list[tuple[str, str | None, str | None, datetime]]:
    """(consumer hash, name hash, address hash, filed at) of filings since ``since`` by these consumers or at
    these addresses; a mixed filing counts once."""
    if not consumer_hashes and not address_hashes:
        return []
    who = sa.or_(complaints.c.consumer_hash.in_(set(consumer_hashes)), complaints.c.consumer_address_hash.in_(set(address_hashes)))
    rows = await conn.execute(
        sa.select(complaints.c.consumer_hash, complaints.c.consumer_name_hash, complaints.c.consumer_address_hash, complaints.c.created_at)
        .where(who, complaints.c.created_at >= utc(since), complaints.c.filing_part != "report")
    )
    return [(r.consumer_hash, r.consumer_name_hash, r.consumer_address_hash, utc(r.created_at)) for r in rows]


async def insert_rows(conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(sa.insert(table), list(rows))


async def by_receipt(conn: AsyncConnection, receipt_hash: str) -> dict[str, Any] | None:
    row = (await conn.execute(
        sa.select(complaints.c.complaint_id, complaints.c.kind, complaints.c.state, complaints.c.received_at, complaints.c.receipt_hash,
                  deadlines.c.kind.label("deadline_kind"), deadlines.c.due.label("deadline_due"),
                  deadlines.c.provisional.label("deadline_provisional"))
        .select_from(_WITH_OPEN_DEADLINE).where(complaints.c.receipt_hash == receipt_hash)
    )).first()
    return dict(row._mapping) if row else None


async def facts_of(conn: AsyncConnection, complaint_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(facts.c.platform_complaint_id, facts.c.at, facts.c.description, facts.c.merged)
        .where(facts.c.complaint_id == complaint_id).order_by(facts.c.at, facts.c.fact_id)
    )
    return [dict(r._mapping) for r in rows]


async def flags_of(conn: AsyncConnection, complaint_ids: Sequence[str], *, open_only: bool = True) -> dict[str, list[dict[str, Any]]]:
    if not complaint_ids:
        return {}
    stmt = sa.select(flags.c.complaint_id, flags.c.flag_id, flags.c.pattern, flags.c.detail, flags.c.rule_id, flags.c.raised_at).where(
        flags.c.complaint_id.in_(list(complaint_ids)))
    if open_only:
        stmt = stmt.where(flags.c.cleared_at.is_(None))
    found: dict[str, list[dict[str, Any]]] = {}
    for row in await conn.execute(stmt.order_by(flags.c.raised_at, flags.c.flag_id)):
        item = dict(row._mapping)
        found.setdefault(item.pop("complaint_id"), []).append(item)
    return found


async def insert_complaints(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(sa.insert(complaints), rows)


_PUBLIC_COLUMNS = [c for c in complaints.c if not c.name.startswith("consumer_") and c.name not in ("receipt_hash", "intake_key")]


async def get_complaint(conn: AsyncConnection, complaint_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(*_PUBLIC_COLUMNS).where(complaints.c.complaint_id == complaint_id))).first()
    return dict(row._mapping) if row else None


# -- handling: tracks, deadlines, audit --------------------------------------------------------------------
def utc(moment: datetime) -> datetime:
    """Every stored moment is UTC: SQLite keeps no offset, so mixed offsets would compare wrongly."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # read back from SQLite, written as UTC
    return moment.astimezone(UTC)


class StaleTrack(RuntimeError):
    """Another transaction moved the item between our read and our write."""


@dataclass(frozen=True, slots=True)
class Loaded:
    track: Track
    version: int
    answered_at: datetime | None


_TRACK_COLUMNS = (
    complaints.c.complaint_id, complaints.c.platform_id, complaints.c.platform_complaint_id, complaints.c.region, complaints.c.kind,
    complaints.c.rule_set, complaints.c.state, complaints.c.accepted_at, complaints.c.answered_at, complaints.c.verification_extended,
    complaints.c.mediation_end_ground, complaints.c.version, complaints.c.mediation_paused_at,
    deadlines.c.kind.label("deadline_kind"), deadlines.c.due.label("deadline_due"), deadlines.c.provisional.label("deadline_provisional"),
    deadlines.c.rule_id.label("deadline_rule_id"),
)
_WITH_OPEN_DEADLINE = complaints.outerjoin(
    deadlines, sa.and_(deadlines.c.complaint_id == complaints.c.complaint_id, deadlines.c.closed_at.is_(None))
)


def _track(row: Any) -> Loaded:
    deadline = None
    if row.deadline_kind is not None:
        due = row.deadline_due if isinstance(row.deadline_due, date) else date.fromisoformat(str(row.deadline_due))
        deadline = OpenDeadline(DeadlineKind(row.deadline_kind), Deadline(due, bool(row.deadline_provisional)), row.deadline_rule_id)
    track = Track(
        complaint_id=row.complaint_id,
        platform_id=row.platform_id,
        platform_complaint_id=row.platform_complaint_id,
        region=row.region,
        kind=FilingKind(row.kind),
        rule_set=RuleSet(row.rule_set),
        state=ComplaintState(row.state),
        deadline=deadline,
        accepted_at=utc(row.accepted_at) if row.accepted_at else None,
        answered=row.answered_at is not None,
        verification_extended=bool(row.verification_extended),
        mediation_end_ground=MediationEndGround(row.mediation_end_ground) if row.mediation_end_ground else None,
        mediation_paused_at=utc(row.mediation_paused_at) if row.mediation_paused_at else None,
    )
    return Loaded(track, int(row.version), utc(row.answered_at) if row.answered_at else None)


async def load_track(conn: AsyncConnection, complaint_id: str) -> Loaded | None:
    """The item's track, its row locked until the transaction ends (PostgreSQL; SQLite has one writer anyway)."""
    stmt = sa.select(*_TRACK_COLUMNS).select_from(_WITH_OPEN_DEADLINE).where(complaints.c.complaint_id == complaint_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=complaints)
    row = (await conn.execute(stmt)).first()
    return _track(row) if row else None


def track_columns(steps: Sequence[Step], answered_at: datetime | None) -> dict[str, Any]:
    """The complaint row's state columns after ``steps``."""
    final = steps[-1].track
    closing = [s.event.outcome.value for s in steps if isinstance(s.event, ComplaintClosed)]
    for step in steps:
        if step.track.answered and not step.before.answered:
            answered_at = step.audit.at
    values: dict[str, Any] = {
        "state": final.state.value,
        "accepted_at": utc(final.accepted_at) if final.accepted_at else None,
        "answered_at": utc(answered_at) if answered_at else None,
        "verification_extended": final.verification_extended,
        "mediation_end_ground": final.mediation_end_ground.value if final.mediation_end_ground else None,
        "state_changed_at": utc(steps[-1].audit.at),
        "mediation_paused_at": utc(final.mediation_paused_at) if final.mediation_paused_at else None,
    }
    if closing:
        values["closing_outcome"] = closing[-1]
    return values


async def update_track(conn: AsyncConnection, loaded: Loaded, steps: Sequence[Step]) -> None:
    """Write the item's new state, guarded by the version read with it."""
    values = track_columns(steps, loaded.answered_at) | {"version": loaded.version + 1}
    result = await conn.execute(
        sa.update(complaints)
        .where(complaints.c.complaint_id == loaded.track.complaint_id, complaints.c.version == loaded.version)
        .values(values)
    )
    if result.rowcount != 1:
        raise StaleTrack(f"complaint {loaded.track.complaint_id} changed while this transition was being made")


async def record_steps(conn: AsyncConnection, steps: Sequence[Step], event_ids: Sequence[str],
                       approaching_at: Sequence[datetime | None]) -> None:
    """Deadlines closed and opened by ``steps``, and one audit row per step (insert-only)."""
    new_deadlines: list[dict[str, Any]] = []
    for step, warn_at in zip(steps, approaching_at, strict=True):
        if step.track.deadline == step.before.deadline:
            continue
        if step.before.deadline is not None:
            if new_deadlines and new_deadlines[-1]["complaint_id"] == step.track.complaint_id:
                new_deadlines[-1]["closed_at"] = utc(step.audit.at)  # opened and closed by this same batch of steps
            else:
                await conn.execute(
                    sa.update(deadlines)
                    .where(deadlines.c.complaint_id == step.track.complaint_id, deadlines.c.closed_at.is_(None))
                    .values(closed_at=utc(step.audit.at))
                )
        opened = step.track.deadline
        if opened is not None:
            assert warn_at is not None
            new_deadlines.append(
                {
                    "deadline_id": new_id(),
                    "complaint_id": step.track.complaint_id,
                    "kind": opened.kind.value,
                    "rule_id": opened.rule_id,
                    "due": opened.deadline.due,
                    "provisional": opened.deadline.provisional,
                    "set_at": utc(step.audit.at),
                    "approaching_at": utc(warn_at),
                    "expires_at": utc(opened.deadline.expires_at),
                    "closed_at": None,
                }
            )
    if new_deadlines:
        await conn.execute(sa.insert(deadlines), new_deadlines)
    await conn.execute(
        sa.insert(audit),
        [
            {
                "complaint_id": step.audit.complaint_id,
                "at": utc(step.audit.at),
                "actor_role": step.audit.actor.role.value,
                "actor": step.audit.actor.subject,
                "from_state": step.audit.from_state.value,
                "to_state": step.audit.to_state.value,
                "event_type": step.audit.event_type,
                "event_id": event_id,
                "ground": step.audit.ground,
                "detail": step.audit.detail,
                "rule_id": step.audit.rule_id,
            }
            for step, event_id in zip(steps, event_ids, strict=True)
        ],
    )


async def insert_audit(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Audit rows of acts that are not transitions (flags raised and cleared): from_state == to_state."""
    await insert_rows(conn, audit, rows)


async def audit_trail(conn: AsyncConnection, complaint_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(audit).where(audit.c.complaint_id == complaint_id).order_by(audit.c.seq))
    return [dict(row._mapping) for row in rows]


# -- the platform's list -----------------------------------------------------------------------------------
_LIST_COLUMNS = (
    complaints.c.complaint_id, complaints.c.platform_complaint_id, complaints.c.kind, complaints.c.state, complaints.c.received_at,
    complaints.c.category, complaints.c.store_id, complaints.c.store_name, complaints.c.order_id, complaints.c.amount,
    complaints.c.region, complaints.c.state_changed_at, complaints.c.linked_complaint_id,
    deadlines.c.kind.label("deadline_kind"), deadlines.c.due.label("deadline_due"), deadlines.c.provisional.label("deadline_provisional"),
)


async def list_for_platform(conn: AsyncConnection, platform_id: str, *, state: ComplaintState | None, after: str | None,
                            limit: int) -> list[dict[str, Any]]:
    """One page of a platform's items in id order (UUIDv7: order of receipt), after the cursor's id."""
    stmt = sa.select(*_LIST_COLUMNS).select_from(_WITH_OPEN_DEADLINE).where(complaints.c.platform_id == platform_id)
    if state is not None:
        stmt = stmt.where(complaints.c.state == state.value)
    if after is not None:
        stmt = stmt.where(complaints.c.complaint_id > after)
    rows = await conn.execute(stmt.order_by(complaints.c.complaint_id).limit(limit))
    return [dict(row._mapping) for row in rows]


# -- the deadline scheduler's queries ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DueNotice:
    deadline_id: str
    complaint_id: str
    missed: bool


OPEN_STATES = tuple(s.value for s in ComplaintState if s not in FINAL_STATES)


async def open_counts(conn: AsyncConnection) -> dict[str, int]:
    """Items not yet final, by state. Read through ix_complaints_state_received (state first), so it touches the
    open items only, never the years of closed ones."""
    rows = await conn.execute(sa.select(complaints.c.state, sa.func.count()).where(complaints.c.state.in_(OPEN_STATES))
                              .group_by(complaints.c.state))
    return {state: int(n) for state, n in rows}


async def due_notices(conn: AsyncConnection, now: datetime, limit: int) -> list[DueNotice]:
    """Open deadlines whose approaching or missed notice is due and not yet sent, oldest first."""
    moment = utc(now)
    open_ = deadlines.c.closed_at.is_(None)
    missed = await conn.execute(
        sa.select(deadlines.c.deadline_id, deadlines.c.complaint_id)
        .where(open_, deadlines.c.missed_sent_at.is_(None), deadlines.c.expires_at <= moment)
        .order_by(deadlines.c.expires_at)
        .limit(limit)
    )
    approaching = await conn.execute(
        sa.select(deadlines.c.deadline_id, deadlines.c.complaint_id)
        .where(open_, deadlines.c.approaching_sent_at.is_(None), deadlines.c.approaching_at <= moment)
        .order_by(deadlines.c.approaching_at)
        .limit(limit)
    )
    found = [DueNotice(r.deadline_id, r.complaint_id, missed=False) for r in approaching]
    found += [DueNotice(r.deadline_id, r.complaint_id, missed=True) for r in missed]
    return found


async def claim_notice(conn: AsyncConnection, notice: DueNotice, now: datetime) -> bool:
    """Set the notice's flag if nobody did: the exactly-once guard, committed with the notice's event."""
    column = deadlines.c.missed_sent_at if notice.missed else deadlines.c.approaching_sent_at
    result = await conn.execute(
        sa.update(deadlines)
        .where(deadlines.c.deadline_id == notice.deadline_id, column.is_(None), deadlines.c.closed_at.is_(None))
        .values({column.name: utc(now)})
    )
    return bool(result.rowcount)


async def deadline_is_open(conn: AsyncConnection, deadline_id: str) -> bool:
    row = (await conn.execute(sa.select(deadlines.c.closed_at).where(deadlines.c.deadline_id == deadline_id))).first()
    return row is not None and row.closed_at is None


# -- lists by role -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ListScope:
    """What the caller may see: one platform's items, a bureau's region prefix, or everything (both None)."""

    platform_id: str | None = None
    region_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class ListFilter:
    states: tuple[str, ...] = ()
    deadline_kind: str | None = None
    due_before: date | None = None
    due_after: date | None = None
    overdue: bool | None = None
    category: str | None = None
    kind: str | None = None
    platform_id: str | None = None
    region_prefix: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    flagged: bool | None = None
    jurisdiction_conflict: bool | None = None


def _prefix_range(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """``column`` starts with the digits ``prefix``, as a range an index can serve (LIKE cannot under every
    PostgreSQL collation)."""
    if len(prefix) >= 6:
        return column == prefix
    upper = str(int(prefix) + 1).zfill(len(prefix))
    return sa.and_(column >= prefix, column < upper)


_ITEM_COLUMNS = (*_LIST_COLUMNS, complaints.c.platform_id)


async def list_items(conn: AsyncConnection, scope: ListScope, where: ListFilter, *, now: datetime,
                     after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    """One page, newest received first, after the cursor's (received_at, complaint_id): keyset paging, so an
    item inserted meanwhile never shifts a page or repeats an item."""
    c, d = complaints.c, deadlines.c
    stmt = sa.select(*_ITEM_COLUMNS, complaints.c.jurisdiction_conflict).select_from(_WITH_OPEN_DEADLINE)
    if scope.platform_id is not None:
        stmt = stmt.where(c.platform_id == scope.platform_id)
    if scope.region_prefix is not None:
        stmt = stmt.where(_prefix_range(c.region, scope.region_prefix))
    if where.states:
        stmt = stmt.where(c.state.in_(where.states))
    if where.category is not None:
        stmt = stmt.where(c.category == where.category)
    if where.kind is not None:
        stmt = stmt.where(c.kind == where.kind)
    if where.platform_id is not None:
        stmt = stmt.where(c.platform_id == where.platform_id)
    if where.region_prefix is not None:
        stmt = stmt.where(_prefix_range(c.region, where.region_prefix))
    if where.received_from is not None:
        stmt = stmt.where(c.received_at >= utc(where.received_from))
    if where.received_to is not None:
        stmt = stmt.where(c.received_at < utc(where.received_to))
    if where.deadline_kind is not None:
        stmt = stmt.where(d.kind == where.deadline_kind)
    if where.due_before is not None:
        stmt = stmt.where(d.due <= where.due_before)
    if where.due_after is not None:
        stmt = stmt.where(d.due >= where.due_after)
    if where.overdue is True:
        stmt = stmt.where(d.expires_at <= utc(now))
    elif where.overdue is False:
        stmt = stmt.where(sa.or_(d.deadline_id.is_(None), d.expires_at > utc(now)))
    if where.flagged is not None:
        open_flag = sa.exists().where(flags.c.complaint_id == c.complaint_id, flags.c.cleared_at.is_(None))
        stmt = stmt.where(open_flag if where.flagged else ~open_flag)
    if where.jurisdiction_conflict is not None:
        stmt = stmt.where(c.jurisdiction_conflict.is_not(None) if where.jurisdiction_conflict else c.jurisdiction_conflict.is_(None))
    if after is not None:
        at, complaint_id = utc(after[0]), after[1]
        stmt = stmt.where(sa.or_(c.received_at < at, sa.and_(c.received_at == at, c.complaint_id < complaint_id)))
    rows = await conn.execute(stmt.order_by(c.received_at.desc(), c.complaint_id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


# -- bridge's directory ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Directory:
    """What the directory knows for one platform's filings: its entry (None: unknown) and its open stores' regions."""

    domicile_region: str | None
    connected: bool | None
    store_regions: dict[str, str]


async def directory_for(conn: AsyncConnection, platform_id: str, store_ids: Sequence[str]) -> Directory:
    p, st = directory_platforms.c, directory_stores.c
    entry = (await conn.execute(sa.select(p.domicile_region, p.connected_to_canal).where(p.platform_id == platform_id))).first()
    regions: dict[str, str] = {}
    if store_ids:
        rows = await conn.execute(sa.select(st.store_id, st.region).where(
            # A closed store's merchant is still where it was: complaints about its past orders go there too.
            st.platform_id == platform_id, st.store_id.in_(set(store_ids))))
        regions = {row.store_id: row.region for row in rows}
    return Directory(entry.domicile_region if entry else None, bool(entry.connected_to_canal) if entry else None, regions)


async def earlier_pauses(conn: AsyncConnection, complaint_id: str) -> list[tuple[datetime, datetime]]:
    p = mediation_pauses.c
    rows = await conn.execute(sa.select(p.paused_at, p.resumed_at).where(p.complaint_id == complaint_id, p.resumed_at.is_not(None))
                              .order_by(p.paused_at))
    return [(utc(r.paused_at), utc(r.resumed_at)) for r in rows]
