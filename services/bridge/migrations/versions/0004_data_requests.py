"""data requests and their deliveries

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "data_requests",
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
    )
    op.create_index("ix_data_requests_platform", "data_requests", ["platform_id", "issued_at"])
    op.create_index("ix_data_requests_state", "data_requests", ["state", "due"])
    op.create_table(
        "data_deliveries",
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
        sa.UniqueConstraint("request_id", "sha256", name="uq_data_deliveries_content"),
    )


def downgrade() -> None:
    op.drop_table("data_deliveries")
    op.drop_table("data_requests")
