"""receipts, officer intake, mixed filings split in parts, facts of reports, professional-claimant flags

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OPEN = "closed_at IS NULL"
_APPROACHING = "closed_at IS NULL AND approaching_sent_at IS NULL"
_MISSED = "closed_at IS NULL AND missed_sent_at IS NULL"


def _deadlines_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("deadline_id", sa.String(36), primary_key=True),
        sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("provisional", sa.Boolean, nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approaching_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approaching_sent_at", sa.DateTime(timezone=True)),
        sa.Column("missed_sent_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("uq_complaint_deadlines_open", name, ["complaint_id"], unique=True,
                    sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))
    op.create_index("ix_complaint_deadlines_approaching", name, ["approaching_at"],
                    sqlite_where=sa.text(_APPROACHING), postgresql_where=sa.text(_APPROACHING))
    op.create_index("ix_complaint_deadlines_missed", name, ["expires_at"],
                    sqlite_where=sa.text(_MISSED), postgresql_where=sa.text(_MISSED))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite changes a unique constraint by rebuilding the table, which drops it; with foreign keys on
        # (they are, and cannot be switched off inside the migration's transaction) that fails while deadlines
        # refer to it. So the deadlines step aside and come back unchanged.
        op.execute("CREATE TABLE _complaint_deadlines_keep AS SELECT * FROM complaint_deadlines")
        op.drop_table("complaint_deadlines")
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("filing_part", sa.String(16), nullable=False, server_default="whole"))
        batch.add_column(sa.Column("linked_complaint_id", sa.String(36)))
        batch.add_column(sa.Column("receipt_hash", sa.String(64)))
        batch.add_column(sa.Column("intake_key", sa.String(120)))
        batch.add_column(sa.Column("consumer_address_enc", sa.LargeBinary))
        batch.add_column(sa.Column("consumer_name_hash", sa.String(64)))
        batch.add_column(sa.Column("consumer_address_hash", sa.String(64)))
        # The two parts of a mixed filing share the platform's id.
        batch.drop_constraint("uq_complaints_platform_item", type_="unique")
        batch.create_unique_constraint("uq_complaints_platform_item", ["platform_id", "platform_complaint_id", "filing_part"])
    if sqlite:
        _deadlines_table("complaint_deadlines")
        op.execute("INSERT INTO complaint_deadlines SELECT * FROM _complaint_deadlines_keep")
        op.execute("DROP TABLE _complaint_deadlines_keep")
    op.create_index("uq_complaints_receipt", "complaints", ["receipt_hash"], unique=True)
    op.create_index("uq_complaints_intake_key", "complaints", ["intake_key"], unique=True)
    op.create_index("ix_complaints_consumer", "complaints", ["consumer_hash", "created_at"])
    op.create_index("ix_complaints_consumer_address", "complaints", ["consumer_address_hash", "created_at"])

    op.create_table(
        "complaint_facts",
        sa.Column("fact_id", sa.String(36), primary_key=True),
        sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
        sa.Column("platform_id", sa.String(32), nullable=False),
        sa.Column("platform_complaint_id", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("facts_digest", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("merged", sa.Boolean, nullable=False),
        sa.UniqueConstraint("platform_id", "platform_complaint_id", name="uq_complaint_facts_filing"),
    )
    op.create_index("ix_complaint_facts_complaint", "complaint_facts", ["complaint_id"])

    op.create_table(
        "complaint_flags",
        sa.Column("flag_id", sa.String(36), primary_key=True),
        sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
        sa.Column("pattern", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(300), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True)),
        sa.Column("cleared_by", sa.String(200)),
        sa.Column("clear_reason", sa.Text),
    )
    op.create_index("ix_complaint_flags_complaint", "complaint_flags", ["complaint_id"])
    op.create_index("ix_complaint_flags_raised", "complaint_flags", ["raised_at"])


def downgrade() -> None:
    op.drop_table("complaint_flags")
    op.drop_table("complaint_facts")
    for index in ("ix_complaints_consumer_address", "ix_complaints_consumer", "uq_complaints_intake_key", "uq_complaints_receipt"):
        op.drop_index(index, "complaints")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TABLE _complaint_deadlines_keep AS SELECT * FROM complaint_deadlines")
        op.drop_table("complaint_deadlines")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_constraint("uq_complaints_platform_item", type_="unique")
        batch.create_unique_constraint("uq_complaints_platform_item", ["platform_id", "platform_complaint_id"])
        for column in ("consumer_address_hash", "consumer_name_hash", "consumer_address_enc", "intake_key", "receipt_hash",
                       "linked_complaint_id", "filing_part"):
            batch.drop_column(column)
    if sqlite:
        _deadlines_table("complaint_deadlines")
        op.execute("INSERT INTO complaint_deadlines SELECT * FROM _complaint_deadlines_keep")
        op.execute("DROP TABLE _complaint_deadlines_keep")
