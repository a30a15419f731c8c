"""new-business-form subjects (新业态主体) on platforms

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "new_form_subjects",
        sa.Column("platform_id", sa.String(32), primary_key=True),
        sa.Column("subject_id", sa.String(200), primary_key=True),
        sa.Column("form", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("uscc", sa.String(18)),
        sa.Column("uscc_check", sa.String(16)),
        sa.Column("id_number_enc", sa.LargeBinary),
        sa.Column("id_number_mac", sa.String(32)),
        sa.Column("exemption_declared", sa.Boolean, nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("region_check", sa.String(16), nullable=False),
        sa.Column("handle", sa.String(200), nullable=False),
        sa.Column("url", sa.String(1000)),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_new_form_subjects_uscc", "new_form_subjects", ["uscc"])
    op.create_index("ix_new_form_subjects_region", "new_form_subjects", ["region"])


def downgrade() -> None:
    op.drop_table("new_form_subjects")
