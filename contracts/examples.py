"""Golden examples: for each event type, payloads with the CloudEvents attributes of their Kafka record.

``python -m contracts.generate`` writes them under ``contracts/golden/<event_type>/``: ``<n>.json`` is the
``data`` and ``<n>.record.json`` the whole binary-mode record (key, headers, value). Ids and times are
fixed so the committed files never change unless an example does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from contracts.events.channel import ComplaintReceived, ComplaintSubmitted
from contracts.examples_analytics import GOLDEN_ANALYTICS
from contracts.examples_bridge import GOLDEN_BRIDGE
from contracts.examples_channel import GOLDEN_CHANNEL
from contracts.golden_example import TRACEPARENT, Golden, fixed_uuid7

__all__ = ["GOLDEN", "TRACEPARENT", "Golden", "fixed_uuid7"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


ATTACHMENTS: Final = [
    {"sha256": "9f2c4b1e0a7d3c5b8e6f1a2d4c7b9e0f3a5d8c1b6e4f7a2c9d0b3e5f8a1c4d7b", "size_bytes": 482113, "media_type": "image/jpeg"},
]

GOLDEN: Final[dict[str, list[Golden]]] = {
    ComplaintSubmitted.event_type: [
        Golden(
            data=ComplaintSubmitted.model_validate(
                {
                    "platform_complaint_id": "TM-2026-000123",
                    "kind": "complaint",
                    "received_at": "2026-11-20T09:30:00+08:00",
                    "merchant": {"store_id": "S-88231", "store_name": "西湖茶叶旗舰店", "uscc": "91330106MA2H0C3T5D", "region": "330106"},
                    "order": {"order_id": "O-7712", "amount": "299.00", "goods_category": "食品"},
                    "category": "quality",
                    "description": "收到的龙井茶叶有霉味，商家拒绝退货。",
                    "consumer": {"name": "张三", "phone": "13800000000"},
                }
            ),
            source="/platforms/P001",
            subject="TM-2026-000123",
            time=_at("2026-11-20T09:30:01.250+08:00"),
            serial=1,
            region="330106",
            platformid="P001",
            traceparent=TRACEPARENT,
        ),
        Golden(
            data=ComplaintSubmitted.model_validate(
                {
                    "platform_complaint_id": "TM-2026-000124",
                    "kind": "report",
                    "received_at": "2026-11-21T14:05:00+08:00",
                    "merchant": {"store_id": "S-10002", "store_name": "潮流数码专营店"},
                    "order": {"amount": "0", "goods_category": "数码"},
                    "category": "counterfeit",
                    "description": "该店铺销售假冒品牌耳机。",
                    # A photo of the earphones' packaging: referenced by digest and size, the file stays with the platform.
                    "attachments": ATTACHMENTS,
                }
            ),
            source="/platforms/P001",
            subject="TM-2026-000124",
            time=_at("2026-11-21T14:05:00+08:00"),
            serial=2,
            platformid="P001",
        ),
    ],
    ComplaintReceived.event_type: [
        Golden(
            data=ComplaintReceived.model_validate(
                {
                    "complaint_id": "019a9c4e-5a00-7000-8000-000000000001",
                    "platform_id": "P001",
                    "platform_complaint_id": "TM-2026-000123",
                    "kind": "complaint",
                    "intake": "platform_api",
                    "received_at": "2026-11-20T09:30:00+08:00",
                    "rule_set": "samr-order-121",
                    "region": "330106",
                    "merchant": {"store_id": "S-88231", "store_name": "西湖茶叶旗舰店", "uscc": "91330106MA2H0C3T5D", "region": "330106"},
                    "order": {"order_id": "O-7712", "amount": "299.00", "goods_category": "食品"},
                    "category": "quality",
                    "description": "收到的龙井茶叶有霉味，商家拒绝退货。",
                    "consumer_hash": "3f1c0e5d0d4b7f2a9b8c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a",
                }
            ),
            source="/redshield/channel",
            subject="019a9c4e-5a00-7000-8000-000000000001",
            time=_at("2026-11-20T09:30:02.500+08:00"),
            serial=3,
            region="330106",
            platformid="P001",
            traceparent=TRACEPARENT,
        ),
        Golden(
            data=ComplaintReceived.model_validate(
                {
                    "complaint_id": "019a9c4e-5a00-7000-8000-000000000002",
                    "platform_id": "P002",
                    "platform_complaint_id": "JD-555",
                    "kind": "report",
                    "intake": "platform_feed",
                    "received_at": "2026-03-01T08:00:00+08:00",
                    "rule_set": "samr-order-20",
                    "region": "330100",
                    "merchant": {"store_id": "S-10002", "store_name": "潮流数码专营店"},
                    "order": {"amount": "0.00", "goods_category": "数码"},
                    "category": "counterfeit",
                    "description": "该店铺销售假冒品牌耳机。",
                    "attachments": ATTACHMENTS,
                }
            ),
            source="/redshield/channel",
            subject="019a9c4e-5a00-7000-8000-000000000002",
            time=_at("2026-03-01T08:00:03+08:00"),
            serial=4,
            region="330100",
            platformid="P002",
        ),
    ],
}
# Each service keeps its examples in a module of its own; the generator sees them all here.
GOLDEN.update(GOLDEN_CHANNEL)
GOLDEN.update(GOLDEN_BRIDGE)
GOLDEN.update(GOLDEN_ANALYTICS)
