"""outbox, inbox and risk warnings

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
        "warnings",
        sa.Column("warning_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.JSON, nullable=False),
        sa.Column("platform_id", sa.String(32)),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("baseline", sa.Float, nullable=False),
        sa.Column("z", sa.Float, nullable=False),
        sa.Column("p_value", sa.Float, nullable=False),
        sa.Column("examples", sa.JSON, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_warnings_day", "warnings", ["day"])


def downgrade() -> None:
    op.drop_table("warnings")
    op.drop_table("inbox")
    op.drop_table("outbox")
