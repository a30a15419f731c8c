"""attachments of a filing, by digest and size

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("attachments", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("attachments")
