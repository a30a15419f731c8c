"""monthly reports, every revision kept

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "reports",
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


def downgrade() -> None:
    op.drop_table("reports")
