"""platform registry, USCC overrides, subject database, submissions with staging and findings, audit

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def _store_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("merchant_name", sa.String(200), nullable=False),
        sa.Column("uscc", sa.String(18)),
        sa.Column("uscc_check", sa.String(16)),
        sa.Column("id_number_enc", sa.LargeBinary),
        sa.Column("id_number_mac", sa.String(32)),
        sa.Column("exemption_declared", sa.Boolean, nullable=False),
        sa.Column("address", sa.String(500), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("region_check", sa.String(16), nullable=False),
        sa.Column("shop_name", sa.String(200), nullable=False),
        sa.Column("shop_url", sa.String(1000), nullable=False),
        sa.Column("category", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(100)),
        sa.Column("above_threshold", sa.Boolean, nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "platforms",
        sa.Column("platform_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("uscc_check", sa.String(16), nullable=False),
        sa.Column("uscc_override_reason", sa.Text),
        sa.Column("domicile_region", sa.String(6), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("operating_model", sa.String(200), nullable=False),
        sa.Column("main_categories", sa.JSON, nullable=False),
        sa.Column("contacts_enc", sa.LargeBinary),
        sa.Column("connected_to_canal", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "uscc_overrides",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "stores",
        sa.Column("platform_id", sa.String(32), primary_key=True),
        sa.Column("store_id", sa.String(200), primary_key=True),
        *_store_columns(),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("first_submission_id", sa.String(36), nullable=False),
        sa.Column("last_submission_id", sa.String(36), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_stores_uscc", "stores", ["uscc"])
    op.create_table(
        "submissions",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("platform_id", sa.String(32), nullable=False),
        sa.Column("period", sa.String(6), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("content_sha256", sa.String(64)),
        sa.Column("bytes_received", BigId, nullable=False, server_default="0"),
        sa.Column("rows_total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_staged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_refused", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_flagged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("registered", sa.Integer),
        sa.Column("updated", sa.Integer),
        sa.Column("closed", sa.Integer),
        sa.Column("unchanged", sa.Integer),
        sa.Column("trace_id", sa.String(32)),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staged_at", sa.DateTime(timezone=True)),
        sa.Column("applied_at", sa.DateTime(timezone=True)),
        sa.Column("failure", sa.Text),
        sa.UniqueConstraint("platform_id", "idempotency_key", name="uq_submissions_idempotency"),
    )
    op.create_index("ix_submissions_state", "submissions", ["state", "received_at"])
    op.create_index("ix_submissions_platform", "submissions", ["platform_id", "received_at"])
    op.create_table(
        "staged_stores",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("store_id", sa.String(200), primary_key=True),
        sa.Column("line", sa.Integer, nullable=False),
        *_store_columns(),
    )
    op.create_table(
        "submission_findings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(36), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("store_id", sa.String(200)),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("field", sa.String(64)),
        sa.Column("message", sa.String(500), nullable=False),
    )
    op.create_index("ix_findings_submission_line", "submission_findings", ["submission_id", "line"])
    op.create_index("ix_findings_submission_store", "submission_findings", ["submission_id", "store_id"])
    op.create_table(
        "audit",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_target", "audit", ["target", "at"])


def downgrade() -> None:
    for table in ("audit", "submission_findings", "staged_stores", "submissions", "stores", "uscc_overrides", "platforms"):
        op.drop_table(table)
