"""platform API credentials (client id + scrypt hash of the secret)

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_credentials",
        sa.Column("client_id", sa.String(40), primary_key=True),
        sa.Column("platform_id", sa.String(32), nullable=False),
        sa.Column("salt", sa.LargeBinary, nullable=False),
        sa.Column("secret_hash", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_platform_credentials_platform", "platform_credentials", ["platform_id"])


def downgrade() -> None:
    op.drop_table("platform_credentials")
