"""the text keys of stores and staged stores compare bytewise on PostgreSQL (COLLATE "C")

Revision ID: 0015

These keys are identifiers, never shown in a locale's order, and compared bytewise they are (1) the same on every
server whatever its C library — a glibc upgrade that changes a locale's order silently corrupts B-tree indexes on
text in that locale, as glibc 2.28 did — and (2) cheaper: a submission inserts and looks up millions of them in
three B-trees (``stores`` (platform_id, store_id) and its USCC index, ``staged_stores`` (submission_id, store_id)),
each comparison a ``strcoll`` before. Measured with ``bench subjects`` at 300,000 stores (docs/performance.md,
bridge "Session 12"): six alternating pairs with the collation set after the migrations, 5 faster, median total
12.57 → 11.28 s; then three pairs at 300,000 and two at 1,000,000 of this migration against the commit before it,
inside the box's noise that hour. Listing stores by ``store_id`` (the ``after`` cursor) now pages in byte order;
ASCII ids sort as before. SQLite compares bytewise already.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: (table, column, type): the same types as before, only the collation changes.
KEYS = (("stores", "platform_id", "varchar(32)"), ("stores", "store_id", "varchar(200)"), ("stores", "uscc", "varchar(18)"),
        ("staged_stores", "submission_id", "varchar(36)"), ("staged_stores", "store_id", "varchar(200)"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, type_ in KEYS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_} COLLATE "C"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, type_ in KEYS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_} COLLATE "default"')
