"""feed topics wanted for platforms connected to the complaint canal

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_topics",
        sa.Column("platform_id", sa.String(32), primary_key=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(500)),
    )
    # Platforms already connected before this revision get their topics too.
    op.execute("INSERT INTO feed_topics (platform_id, requested_at, attempts) "
               "SELECT platform_id, updated_at, 0 FROM platforms WHERE connected_to_canal")


def downgrade() -> None:
    op.drop_table("feed_topics")
