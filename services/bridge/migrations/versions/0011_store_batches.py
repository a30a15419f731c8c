"""batches of store records posted by platforms, and their records by idempotency id

Revision ID: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_batches",
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
    )
    op.create_index("ix_store_batches_platform", "store_batches", ["platform_id", "received_at"])
    op.create_table(
        "store_batch_records",
        sa.Column("platform_id", sa.String(32), primary_key=True),
        sa.Column("record_id", sa.String(200), primary_key=True),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("store_id", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_batch_records")
    op.drop_table("store_batches")
