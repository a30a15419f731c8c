"""lists by role: keyset indexes (received_at, complaint_id) per scope, open deadlines by kind and day, and the
jurisdiction conflict column

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OPEN = "closed_at IS NULL"
_INDEXES = {
    "ix_complaints_received": ["received_at", "complaint_id"],
    "ix_complaints_platform_received": ["platform_id", "received_at", "complaint_id"],
    "ix_complaints_region_received": ["region", "received_at", "complaint_id"],
    "ix_complaints_state_received": ["state", "received_at", "complaint_id"],
}


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("jurisdiction_conflict", sa.String(6)))
    for name, columns in _INDEXES.items():
        op.create_index(name, "complaints", columns)
    # "Open deadlines of this kind due before/after": only open ones are ever asked for.
    op.create_index("ix_complaint_deadlines_open_kind_due", "complaint_deadlines", ["kind", "due"],
                    sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))
    op.create_index("ix_complaint_flags_open", "complaint_flags", ["complaint_id"],
                    sqlite_where=sa.text("cleared_at IS NULL"), postgresql_where=sa.text("cleared_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_complaint_flags_open", "complaint_flags")
    op.drop_index("ix_complaint_deadlines_open_kind_due", "complaint_deadlines")
    for name in _INDEXES:
        op.drop_index(name, "complaints")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("jurisdiction_conflict")
