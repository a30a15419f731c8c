"""items assigned by Zhejiang Fair Online and their outcomes

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "fair_online_items",
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
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_index("ix_fair_online_items_region", "fair_online_items", ["region", "received_at"])
    op.create_table(
        "fair_online_outcomes",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(64), nullable=False, unique=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("case_number", sa.String(100)),
        sa.Column("unit", sa.String(6), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fair_online_outcomes")
    op.drop_table("fair_online_items")
