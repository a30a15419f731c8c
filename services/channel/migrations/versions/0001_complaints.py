"""outbox, inbox and complaints

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.tables import create_runtime_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_runtime_tables(op)
    op.create_table(
        "complaints",
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
        sa.Column("consumer_name_enc", sa.LargeBinary),
        sa.Column("consumer_phone_enc", sa.LargeBinary),
        sa.Column("consumer_hash", sa.String(64)),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("platform_id", "platform_complaint_id", name="uq_complaints_platform_item"),
    )
    op.create_index("ix_complaints_platform_created", "complaints", ["platform_id", "created_at"])


def downgrade() -> None:
    op.drop_table("complaints")
    op.drop_table("inbox")
    op.drop_table("outbox")
