"""bridge's tables: the platform registry, the subject database, submissions and their staging, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.tables import metadata

BigId = sa.Integer().with_variant(sa.BigInteger(), "postgresql")

platforms = sa.Table(
    "platforms",
    metadata,
    sa.Column("platform_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("uscc_check", sa.String(16), nullable=False),
    sa.Column("uscc_override_reason", sa.Text),
    sa.Column("domicile_region", sa.String(6), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("operating_model", sa.String(200), nullable=False),
    sa.Column("main_categories", sa.JSON, nullable=False),
    # Names and phones of people: encrypted at rest, never in events.
    sa.Column("contacts_enc", sa.LargeBinary),
    sa.Column("connected_to_canal", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: Codes a person confirmed as genuine although their check character fails: the override belongs to the
#: code, so it holds for every store and platform using it, and for every later submission.
uscc_overrides = sa.Table(
    "uscc_overrides",
    metadata,
    sa.Column("uscc", sa.String(18), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_by", sa.String(200), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
)

_STORE_COLUMNS = (
    ("merchant_name", sa.String(200), False),
    ("uscc", sa.String(18), True),
    ("uscc_check", sa.String(16), True),
    ("id_number_enc", sa.LargeBinary, True),
    ("id_number_mac", sa.String(32), True),
    ("exemption_declared", sa.Boolean, False),
    ("address", sa.String(500), False),
    ("region", sa.String(6), False),
    ("region_check", sa.String(16), False),
    ("shop_name", sa.String(200), False),
    ("shop_url", sa.String(1000), False),
    ("category", sa.String(200), False),
    ("contact", sa.String(100), True),
    ("above_threshold", sa.Boolean, False),
    ("digest", sa.String(32), False),
)
STORE_FIELDS = tuple(name for name, _, _ in _STORE_COLUMNS)
#: A staged row's columns, in the order the staging writes them (services/bridge/staging.py, bulk_rows.copy_binary).
STAGED_COLUMNS = ("submission_id", "store_id", "line", *STORE_FIELDS, "event_fields")


def _store_columns() -> list[sa.Column[Any]]:
    return [sa.Column(name, kind, nullable=nullable) for name, kind, nullable in _STORE_COLUMNS]


# On PostgreSQL the text keys of stores and staged_stores compare bytewise (COLLATE "C", migration 0015); declared
# here without it, as SQLite (bytewise already) knows no collation of that name.
stores = sa.Table(
    "stores",
    metadata,
    sa.Column("platform_id", sa.String(32), primary_key=True),
    sa.Column("store_id", sa.String(200), primary_key=True),
    *_store_columns(),
    sa.Column("status", sa.String(8), nullable=False),  # open | closed
    sa.Column("first_submission_id", sa.String(36), nullable=False),
    sa.Column("last_submission_id", sa.String(36), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    # One merchant's stores across platforms are found by its USCC.
    sa.Index("ix_stores_uscc", "uscc"),
)

#: Batches of store records a platform posted (at most 100 records each), with every record's result as answered.
store_batches = sa.Table(
    "store_batches",
    metadata,
    sa.Column("batch_id", sa.String(36), primary_key=True),
    sa.Column("platform_id", sa.String(32), nullable=False),
    sa.Column("period", sa.String(6), nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("created", sa.Integer, nullable=False),
    sa.Column("updated", sa.Integer, nullable=False),
    sa.Column("unchanged", sa.Integer, nullable=False),
    sa.Column("duplicate", sa.Integer, nullable=False),
    sa.Column("refused", sa.Integer, nullable=False),
    sa.Column("flagged", sa.Integer, nullable=False),
    sa.Column("results", sa.JSON, nullable=False),
    sa.Column("submitted_by", sa.String(200), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_store_batches_platform", "platform_id", "received_at"),
)

#: Every applied batch record by its idempotency id: the same record_id again is answered with this, nothing applied.
store_batch_records = sa.Table(
    "store_batch_records",
    metadata,
    sa.Column("platform_id", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(200), primary_key=True),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("store_id", sa.String(200), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

#: Enterprise websites: enterprises that sell through their own site, registered by a regulator or bureau.
websites = sa.Table(
    "websites",
    metadata,
    sa.Column("website_id", sa.String(64), primary_key=True),
    sa.Column("operator_name", sa.String(200), nullable=False),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("uscc_check", sa.String(16), nullable=False),
    sa.Column("domain", sa.String(253), nullable=False),
    sa.Column("url", sa.String(1000)),
    sa.Column("icp_filing", sa.String(40), nullable=False),
    sa.Column("region", sa.String(6), nullable=False),
    sa.Column("region_check", sa.String(16), nullable=False),
    sa.Column("category", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_websites_uscc", "uscc"),
    sa.Index("ix_websites_region", "region"),
    sa.Index("ix_websites_domain", "domain"),
)

#: New-business-form subjects (live-stream hosts, micro-stores, group-buying leaders) on a platform. ID numbers as in
#: stores: encrypted at rest, compared by their keyed digest, never served.
new_form_subjects = sa.Table(
    "new_form_subjects",
    metadata,
    sa.Column("platform_id", sa.String(32), primary_key=True),
    sa.Column("subject_id", sa.String(200), primary_key=True),
    sa.Column("form", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("uscc", sa.String(18)),
    sa.Column("uscc_check", sa.String(16)),
    sa.Column("id_number_enc", sa.LargeBinary),
    sa.Column("id_number_mac", sa.String(32)),
    sa.Column("exemption_declared", sa.Boolean, nullable=False),
    sa.Column("region", sa.String(6), nullable=False),
    sa.Column("region_check", sa.String(16), nullable=False),
    sa.Column("handle", sa.String(200), nullable=False),
    sa.Column("url", sa.String(1000)),
    sa.Column("category", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_new_form_subjects_uscc", "uscc"),
    sa.Index("ix_new_form_subjects_region", "region"),
)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("submission_id", sa.String(36), primary_key=True),
    sa.Column("platform_id", sa.String(32), nullable=False),
    sa.Column("period", sa.String(6), nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("idempotency_key", sa.String(200)),
    # receiving → staged → applied; or interrupted / rejected / failed. Only "staged" is ever applied.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("content_sha256", sa.String(64)),
    sa.Column("bytes_received", BigId, nullable=False, server_default="0"),
    sa.Column("rows_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_staged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_refused", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_flagged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("registered", sa.Integer),
    sa.Column("updated", sa.Integer),
    sa.Column("closed", sa.Integer),
    sa.Column("unchanged", sa.Integer),
    sa.Column("trace_id", sa.String(32)),
    sa.Column("submitted_by", sa.String(200), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("staged_at", sa.DateTime(timezone=True)),
    sa.Column("applied_at", sa.DateTime(timezone=True)),
    sa.Column("failure", sa.Text),
    # An interrupted upload continues from this line (migration 0014); null where it cannot.
    sa.Column("resume_line", sa.Integer),
    sa.Column("csv_header", sa.Text),
    sa.Column("parts", sa.Integer, nullable=False, server_default="1"),
    sa.UniqueConstraint("platform_id", "idempotency_key", name="uq_submissions_idempotency"),
    sa.Index("ix_submissions_state", "state", "received_at"),
    sa.Index("ix_submissions_platform", "platform_id", "received_at"),
)

#: Valid rows of a submission, waiting to be applied in one transaction. Emptied when applied.
staged_stores = sa.Table(
    "staged_stores",
    metadata,
    sa.Column("submission_id", sa.String(36), primary_key=True),
    sa.Column("store_id", sa.String(200), primary_key=True),
    sa.Column("line", sa.Integer, nullable=False),
    *_store_columns(),
    # The store's members of its registered/updated event data as JSON text (services.bridge.store_values.event_fields),
    # written where the row is checked so the apply only joins it in; None on rows staged before it existed.
    sa.Column("event_fields", sa.Text, nullable=True),
)

#: The per-row report: every refused row and every flag, with its line number.
findings = sa.Table(
    "submission_findings",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.String(36), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("store_id", sa.String(200)),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("field", sa.String(64)),
    sa.Column("message", sa.String(500), nullable=False),
    sa.Index("ix_findings_submission_line", "submission_id", "line"),
    # A refused row must not close its store: the apply step looks refused store ids up here.
    sa.Index("ix_findings_submission_store", "submission_id", "store_id"),
)

#: A platform's monthly reports: every revision kept (insert-only); the highest revision of a month is the report.
reports = sa.Table(
    "reports",
    metadata,
    sa.Column("report_id", sa.String(36), primary_key=True),
    sa.Column("platform_id", sa.String(32), nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("sales", sa.JSON, nullable=False),
    sa.Column("stores_by_category", sa.JSON, nullable=False),
    sa.Column("total_gmv_cny", sa.String(24), nullable=False),
    sa.Column("total_orders", BigId, nullable=False),
    sa.Column("submitted_by", sa.String(200), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("platform_id", "month", "revision", name="uq_reports_revision"),
)

#: Data requested by a regulator from a platform. open → delivered, or open → overdue (→ delivered, late).
data_requests = sa.Table(
    "data_requests",
    metadata,
    sa.Column("request_id", sa.String(36), primary_key=True),
    sa.Column("platform_id", sa.String(32), nullable=False),
    sa.Column("legal_basis", sa.String(500), nullable=False),
    sa.Column("scope", sa.JSON, nullable=False),
    sa.Column("due", sa.Date, nullable=False),
    sa.Column("due_provisional", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("issued_by", sa.String(200), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("overdue_at", sa.DateTime(timezone=True)),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Index("ix_data_requests_platform", "platform_id", "issued_at"),
    sa.Index("ix_data_requests_state", "state", "due"),
)

#: What a platform delivered for a request: the content sits in a file; its digest and size are the record.
data_deliveries = sa.Table(
    "data_deliveries",
    metadata,
    sa.Column("delivery_id", sa.String(36), primary_key=True),
    sa.Column("request_id", sa.String(36), nullable=False),
    sa.Column("platform_id", sa.String(32), nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size_bytes", BigId, nullable=False),
    sa.Column("path", sa.String(1000), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("delivered_by", sa.String(200), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
    # The same content delivered again is the same delivery: a resend after a broken answer adds nothing.
    sa.UniqueConstraint("request_id", "sha256", name="uq_data_deliveries_content"),
)

#: Platforms noted as not having submitted for a period by its deadline: the key makes the note (and its event) once.
missed_submissions = sa.Table(
    "missed_submissions",
    metadata,
    sa.Column("platform_id", sa.String(32), primary_key=True),
    sa.Column("period", sa.String(6), primary_key=True),
    sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
    sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
)

#: Items assigned by Zhejiang Fair Online; the province's item id makes a resend the same item.
fair_online_items = sa.Table(
    "fair_online_items",
    metadata,
    sa.Column("item_id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("region", sa.String(6), nullable=False),
    sa.Column("platform_id", sa.String(32)),
    sa.Column("platform_uscc", sa.String(18)),
    sa.Column("merchant_uscc", sa.String(18)),
    sa.Column("store_url", sa.String(1000)),
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("due", sa.Date),
    sa.Column("received_via", sa.String(8), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # assigned | returned
    sa.Index("ix_fair_online_items_region", "region", "received_at"),
)

#: The outcome of each item, numbered in the order recorded: the province polls them by that number.
fair_online_outcomes = sa.Table(
    "fair_online_outcomes",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String(64), nullable=False, unique=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("case_number", sa.String(100)),
    sa.Column("unit", sa.String(6), nullable=False),
    sa.Column("decided_by", sa.String(200), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
)

#: API credentials of platforms: a client id and the scrypt hash of its secret (the secret itself is never stored).
platform_credentials = sa.Table(
    "platform_credentials",
    metadata,
    sa.Column("client_id", sa.String(40), primary_key=True),
    sa.Column("platform_id", sa.String(32), nullable=False),
    sa.Column("salt", sa.LargeBinary, nullable=False),
    sa.Column("secret_hash", sa.LargeBinary, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),  # active | revoked
    sa.Column("issued_by", sa.String(200), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rotated_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Index("ix_platform_credentials_platform", "platform_id"),
)

#: Platforms connected to the canal whose feed topics must exist; created_at is set once Kafka has them.
feed_topics = sa.Table(
    "feed_topics",
    metadata,
    sa.Column("platform_id", sa.String(32), primary_key=True),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.String(500)),
)

#: Insert-only: who did what, when, to which object.
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_audit_target", "target", "at"),
)


async def write_audit(conn: AsyncConnection, *, at: datetime, actor: str, role: str, action: str, target: str,
                      detail: dict[str, Any]) -> None:
    await conn.execute(sa.insert(audit).values(at=at, actor=actor, role=role, action=action, target=target, detail=detail))


def lock_not_available(exc: DBAPIError) -> bool:
    """Whether PostgreSQL refused a lock asked for without waiting (``NOWAIT``) because another transaction holds it
    (SQLSTATE 55P03)."""
    return getattr(exc.orig, "sqlstate", None) == "55P03"


def unique_violation(exc: BaseException) -> bool:
    """Whether a write was refused by a unique key (SQLSTATE 23505): from asyncpg directly (``COPY`` runs on the
    driver's connection) or wrapped by SQLAlchemy."""
    return "23505" in (getattr(exc, "sqlstate", None), getattr(getattr(exc, "orig", None), "sqlstate", None))


def for_update(stmt: sa.Select[Any], conn: AsyncConnection) -> sa.Select[Any]:
    """Row lock on PostgreSQL; SQLite has one writer, so its transactions are serial anyway."""
    return stmt.with_for_update() if conn.dialect.name == "postgresql" else stmt
