"""bridge's directory in channel: platforms (domicile, connected to the canal) and stores (region)

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
        "directory_platforms",
        sa.Column("platform_id", sa.String(32), primary_key=True),
        sa.Column("domicile_region", sa.String(6), nullable=False),
        sa.Column("connected_to_canal", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "directory_stores",
        sa.Column("platform_id", sa.String(32), primary_key=True),
        sa.Column("store_id", sa.String(200), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("uscc", sa.String(18)),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("directory_stores")
    op.drop_table("directory_platforms")
