"""an interrupted upload can be resumed from the first line it did not stage

Revision ID: 0014

``resume_line``: the line an interrupted upload continues from (the first line after its last staged batch), null
where it cannot be resumed; ``csv_header``: a CSV file's header line, which a resumed part does not repeat;
``parts``: how many uploads the file came in.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("resume_line", sa.Integer, nullable=True))
        batch.add_column(sa.Column("csv_header", sa.Text, nullable=True))
        batch.add_column(sa.Column("parts", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("parts")
        batch.drop_column("csv_header")
        batch.drop_column("resume_line")
