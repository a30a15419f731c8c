"""platforms noted as missing a semi-annual submission deadline

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "missed_submissions",
        sa.Column("platform_id", sa.String(32), primary_key=True),
        sa.Column("period", sa.String(6), primary_key=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("missed_submissions")
