"""enterprise websites (企业网站) registered by the bureau

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "websites",
        sa.Column("website_id", sa.String(64), primary_key=True),
        sa.Column("operator_name", sa.String(200), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("uscc_check", sa.String(16), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("url", sa.String(1000)),
        sa.Column("icp_filing", sa.String(40), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("region_check", sa.String(16), nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_websites_uscc", "websites", ["uscc"])
    op.create_index("ix_websites_region", "websites", ["region"])
    op.create_index("ix_websites_domain", "websites", ["domain"])


def downgrade() -> None:
    op.drop_table("websites")
