"""staged rows carry their store event's data members, made where the row is checked

Revision ID: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staged_stores", sa.Column("event_fields", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("staged_stores", "event_fields")
