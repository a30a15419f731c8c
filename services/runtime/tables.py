"""Tables every service has: the outbox (events waiting to be published) and the inbox (events consumed)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

outbox = sa.Table(
    "outbox",
    metadata,
    # Insertion order is commit order on SQLite (one writer); on PostgreSQL the relay reads unsent rows
    # by this sequence, so a row that commits late is still picked up by the next pass.
    sa.Column("seq", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("topic", sa.String(249), nullable=False),
    sa.Column("key", sa.LargeBinary, nullable=True),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    # NULL: the row is one event. N: the row is a bundle of N events in ``value`` (services/runtime/bundles.py).
    sa.Column("bundle", sa.Integer, nullable=True),
    sa.Index("ix_outbox_unsent", "seq", sqlite_where=sa.text("sent_at IS NULL"), postgresql_where=sa.text("sent_at IS NULL")),
)

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
)


def create_runtime_tables(op: Any) -> None:
    """For each service's first migration: the outbox and inbox tables (as they were then: later columns are added
    by the migrations that brought them, e.g. :func:`add_outbox_bundles`)."""
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=True),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_outbox_unsent", "outbox", ["seq"], sqlite_where=sa.text("sent_at IS NULL"), postgresql_where=sa.text("sent_at IS NULL")
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def add_outbox_bundles(op: Any) -> None:
    """The outbox's ``bundle`` column (services/runtime/bundles.py), in every service's migration that brings it.

    On PostgreSQL the values are also compressed with LZ4 where the server has it (14 and later, built with it): a
    bundle is ~16 MB of JSON lines that TOAST compresses on the way in, and the default ``pglz`` took 116 ms for
    one of 20,000 store events against 17 ms for LZ4 (~6 µs of the apply's CPU an event; the result ~20 % larger,
    both ~17× smaller than the text). Values already stored keep their method."""
    op.add_column("outbox", sa.Column("bundle", sa.Integer, nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.execute(sa.text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar():
        op.execute("ALTER TABLE outbox ALTER COLUMN value SET COMPRESSION lz4")


def drop_outbox_bundles(op: Any) -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("bundle")
