"""mediation sessions, pauses of the mediation clock

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("mediation_paused_at", sa.DateTime(timezone=True)))
    op.create_table(
        "mediation_pauses",
        sa.Column("pause_id", sa.String(36), primary_key=True),
        sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_by", sa.String(200), nullable=False),
        sa.Column("resumed_at", sa.DateTime(timezone=True)),
        sa.Column("resumed_by", sa.String(200)),
    )
    op.create_index("ix_mediation_pauses_complaint", "mediation_pauses", ["complaint_id"])
    op.create_table(
        "mediation_sessions",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("form", sa.String(16), nullable=False),
        sa.Column("parties", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mediation_sessions_complaint", "mediation_sessions", ["complaint_id", "held_at"])


def downgrade() -> None:
    op.drop_table("mediation_sessions")
    op.drop_table("mediation_pauses")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("mediation_paused_at")
