"""the staging table is left out of autovacuum (PostgreSQL)

Revision ID: 0017

A staged row lives only while its submission is received and applied, and the apply empties the table (one
``TRUNCATE`` when no other submission is staged: services/bridge/staging.py ``drop_staged``). Autovacuum still
counted the millions of rows a large upload inserts and, past its insert threshold, scanned the table meanwhile —
CPU taken from the upload, with nothing to reclaim — and a worker holding the table at the apply's end made the
``TRUNCATE``'s lock unavailable, so the staged rows of a 9-million-row upload were deleted one by one instead
(8.5 s, and 7 GB of dead rows left on disk). Wraparound protection still vacuums it when it must.
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE staged_stores SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE staged_stores RESET (autovacuum_enabled, toast.autovacuum_enabled)")
