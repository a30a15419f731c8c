"""the outbox can hold bundles: many events of one topic in one row (services/runtime/bundles.py)

Revision ID: 0002
"""

from alembic import op

from services.runtime.tables import add_outbox_bundles, drop_outbox_bundles

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_bundles(op)


def downgrade() -> None:
    drop_outbox_bundles(op)
