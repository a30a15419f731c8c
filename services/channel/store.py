"""channel's tables and the queries its use cases run inside a unit of work."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.channel.domain import Complaint
from services.runtime.keys import FieldCipher
from services.runtime.tables import metadata

complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("complaint_id", sa.String(36), primary_key=True),
    sa.Column("platform_id", sa.String(32), nullable=False),
    sa.Column("platform_complaint_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("intake", sa.String(16), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rule_set", sa.String(32), nullable=False),
    sa.Column("region", sa.String(6), nullable=False),
    sa.Column("store_id", sa.String(200), nullable=False),
    sa.Column("store_name", sa.String(200), nullable=False),
    sa.Column("merchant_uscc", sa.String(18)),
    sa.Column("merchant_region", sa.String(6)),
    sa.Column("order_id", sa.String(200)),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Column("goods_category", sa.String(200), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    # Personal data: encrypted at rest, never in events or analytics.
    sa.Column("consumer_name_enc", sa.LargeBinary),
    sa.Column("consumer_phone_enc", sa.LargeBinary),
    sa.Column("consumer_hash", sa.String(64)),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("platform_id", "platform_complaint_id", name="uq_complaints_platform_item"),
    sa.Index("ix_complaints_platform_created", "platform_id", "created_at"),
)


def complaint_row(complaint: Complaint, cipher: FieldCipher) -> dict[str, Any]:
    f = complaint.filing
    return {
        "complaint_id": complaint.complaint_id,
        "platform_id": complaint.platform_id,
        "platform_complaint_id": f.platform_complaint_id,
        "kind": f.kind.value,
        "intake": complaint.intake.value,
        "received_at": f.received_at,
        "rule_set": complaint.rule_set.value,
        "region": complaint.region,
        "store_id": f.merchant.store_id,
        "store_name": f.merchant.store_name,
        "merchant_uscc": f.merchant.uscc,
        "merchant_region": f.merchant.region,
        "order_id": f.order.order_id,
        "amount": f.order.amount,
        "goods_category": f.order.goods_category,
        "category": f.category.value,
        "description": f.description,
        "consumer_name_enc": cipher.encrypt(f.consumer.name) if f.consumer else None,
        "consumer_phone_enc": cipher.encrypt(f.consumer.phone) if f.consumer else None,
        "consumer_hash": complaint.consumer_hash,
        "state": complaint.state.value,
        "created_at": complaint.created_at,
    }


async def existing_ids(conn: AsyncConnection, platform_id: str, platform_complaint_ids: list[str]) -> dict[str, str]:
    """platform_complaint_id → complaint_id for the items this platform already filed."""
    if not platform_complaint_ids:
        return {}
    rows = await conn.execute(
        sa.select(complaints.c.platform_complaint_id, complaints.c.complaint_id).where(
            complaints.c.platform_id == platform_id, complaints.c.platform_complaint_id.in_(platform_complaint_ids)
        )
    )
    return {row.platform_complaint_id: row.complaint_id for row in rows}


async def insert_complaints(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(sa.insert(complaints), rows)


_PUBLIC_COLUMNS = [c for c in complaints.c if not c.name.startswith("consumer_")]


async def get_complaint(conn: AsyncConnection, complaint_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(*_PUBLIC_COLUMNS).where(complaints.c.complaint_id == complaint_id))).first()
    return dict(row._mapping) if row else None
