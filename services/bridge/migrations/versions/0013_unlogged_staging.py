"""staged rows are not written to PostgreSQL's WAL (an UNLOGGED staging table)

Revision ID: 0013

A staged row lives from its batch's commit until its submission is applied (on PostgreSQL usually the same
upload's transaction: services/bridge/streaming_apply.py). Logging it cost ~750 of the ~2,700 WAL bytes a store of
a submission writes. What an unlogged table gives up: after a database crash (or on a promoted standby) it is empty.
That cannot go unnoticed: an upload being received then breaks (its connection dies), an apply in progress rolls
back, and the applier compares a staged submission's row count with the rows found before it applies anything
(``Applier._staging_lost`` in services/bridge/apply.py): a submission whose rows are gone is marked interrupted, to be resent.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE staged_stores SET UNLOGGED")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE staged_stores SET LOGGED")
