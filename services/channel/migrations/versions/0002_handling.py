"""handling: state facts on complaints, running deadlines with their notice flags, the insert-only audit trail

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("answered_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("verification_extended", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("mediation_end_ground", sa.String(32)))
        batch.add_column(sa.Column("closing_outcome", sa.String(32)))
        batch.add_column(sa.Column("state_changed_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_complaints_platform_state", "complaints", ["platform_id", "state", "complaint_id"])

    op.create_table(
        "complaint_deadlines",
        sa.Column("deadline_id", sa.String(36), primary_key=True),
        sa.Column("complaint_id", sa.String(36), sa.ForeignKey("complaints.complaint_id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("provisional", sa.Boolean, nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approaching_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approaching_sent_at", sa.DateTime(timezone=True)),
        sa.Column("missed_sent_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
    )
    open_only = "closed_at IS NULL"
    op.create_index("uq_complaint_deadlines_open", "complaint_deadlines", ["complaint_id"], unique=True,
                    sqlite_where=sa.text(open_only), postgresql_where=sa.text(open_only))
    approaching = "closed_at IS NULL AND approaching_sent_at IS NULL"
    op.create_index("ix_complaint_deadlines_approaching", "complaint_deadlines", ["approaching_at"],
                    sqlite_where=sa.text(approaching), postgresql_where=sa.text(approaching))
    missed = "closed_at IS NULL AND missed_sent_at IS NULL"
    op.create_index("ix_complaint_deadlines_missed", "complaint_deadlines", ["expires_at"],
                    sqlite_where=sa.text(missed), postgresql_where=sa.text(missed))

    op.create_table(
        "complaint_audit",
        sa.Column("seq", sa.Integer().with_variant(sa.BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
        sa.Column("complaint_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=False),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("ground", sa.String(200)),
        sa.Column("detail", sa.Text),
        sa.Column("rule_id", sa.String(100)),
    )
    op.create_index("ix_complaint_audit_complaint", "complaint_audit", ["complaint_id", "seq"])
    # Insert-only, enforced by the database itself: the application never updates or deletes audit rows,
    # and neither may anyone with a SQL prompt short of dropping the triggers (which is itself visible).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION complaint_audit_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'complaint_audit is insert-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER complaint_audit_insert_only BEFORE UPDATE OR DELETE OR TRUNCATE ON complaint_audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION complaint_audit_insert_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER complaint_audit_no_{action.lower()} BEFORE {action} ON complaint_audit "
                "BEGIN SELECT RAISE(ABORT, 'complaint_audit is insert-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER complaint_audit_insert_only ON complaint_audit")
        op.execute("DROP FUNCTION complaint_audit_insert_only()")
    op.drop_table("complaint_audit")
    op.drop_table("complaint_deadlines")
    op.drop_index("ix_complaints_platform_state", "complaints")
    with op.batch_alter_table("complaints") as batch:
        for column in ("version", "state_changed_at", "closing_outcome", "mediation_end_ground", "verification_extended", "answered_at", "accepted_at"):
            batch.drop_column(column)
