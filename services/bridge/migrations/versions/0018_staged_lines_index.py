"""staged rows found by their lines (PostgreSQL): the apply beside the staging reads a batch as one index range

Revision ID: 0018

The apply that runs beside the staging (services/bridge/streaming_apply.py) was handed each batch's store ids and
looked every one up in the staging table's primary key: a descent of a B-tree of millions of rows a store, ~3 µs of
the apply's backend, the longest stage of a large upload. A batch's rows are the submission's staged rows on the
lines it covers, so an index on (submission_id, line) gives them as one range, in file order; keeping it up costs
the staging's backend well under a µs a row (its keys only grow). SQLite applies after the whole file and does not
need it.
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_staged_stores_lines ON staged_stores (submission_id, line)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_staged_stores_lines")
