"""Golden examples of bridge's events (merged into ``contracts.examples.GOLDEN``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from contracts.events.bridge import (
    PlatformRegistered,
    PlatformUpdated,
    ReportSubmitted,
    StoreClosed,
    StoreRegistered,
    StoreUpdated,
)
from contracts.golden_example import TRACEPARENT, Golden

SOURCE: Final = "/redshield/bridge"
SUBMISSION: Final = "019b3f2a-6c00-7000-8000-0000000000a1"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


_PLATFORM: Final = {
    "platform_id": "P001",
    "name": "西湖优选电商平台",
    "uscc": "91330100716105852F",
    "uscc_check": "valid",
    "domicile_region": "330106",
    "type": "b2c",
    "operating_model": "self-operated and marketplace",
    "main_categories": ["食品", "服装", "数码"],
    "connected_to_canal": True,
    "version": 1,
}

_STORE: Final = {
    "platform_id": "P001",
    "store_id": "S-88231",
    "merchant_name": "杭州西湖茶叶有限公司",
    "uscc": "91330106MA2H0C3T5D",
    "uscc_check": "valid",
    "exemption_declared": False,
    "region": "330106",
    "region_check": "valid",
    "shop_name": "西湖茶叶旗舰店",
    "shop_url": "https://shop.example.com/s/88231",
    "category": "食品",
    "above_threshold": True,
    "submission_id": SUBMISSION,
    "period": "2026H1",
}

GOLDEN_BRIDGE: Final[dict[str, list[Golden]]] = {
    PlatformRegistered.event_type: [
        Golden(
            data=PlatformRegistered.model_validate(_PLATFORM),
            source=SOURCE, subject="P001", time=_at("2026-01-05T10:00:00+08:00"), serial=101,
            region="330106", platformid="P001", traceparent=TRACEPARENT,
        ),
        Golden(
            # An early pilot code that fails its check character, kept after a regulator's override.
            data=PlatformRegistered.model_validate(
                _PLATFORM | {"platform_id": "P002", "name": "钱塘生鲜团购", "uscc": "91330110MA27XL0Q10", "uscc_check": "overridden",
                             "domicile_region": "330114", "type": "group_buying", "operating_model": "community group buying",
                             "main_categories": ["生鲜"], "connected_to_canal": False}
            ),
            source=SOURCE, subject="P002", time=_at("2026-01-05T11:00:00+08:00"), serial=102,
            region="330114", platformid="P002",
        ),
    ],
    PlatformUpdated.event_type: [
        Golden(
            data=PlatformUpdated.model_validate(_PLATFORM | {"connected_to_canal": False, "version": 2, "changed": ["connected_to_canal"]}),
            source=SOURCE, subject="P001", time=_at("2026-02-01T09:00:00+08:00"), serial=103,
            region="330106", platformid="P001",
        ),
    ],
    StoreRegistered.event_type: [
        Golden(
            data=StoreRegistered.model_validate(_STORE),
            source=SOURCE, subject="P001/S-88231", time=_at("2026-01-20T03:00:00+08:00"), serial=104,
            region="330106", platformid="P001", traceparent=TRACEPARENT,
        ),
        Golden(
            # An unregistered merchant: no USCC, the exemption declared; the ID number stays in bridge.
            data=StoreRegistered.model_validate(
                _STORE | {"store_id": "S-10002", "merchant_name": "个体卖家10002", "uscc": None, "uscc_check": None,
                          "exemption_declared": True, "region": "441900", "region_check": "unverified", "shop_name": "小王手作",
                          "shop_url": "https://shop.example.com/s/10002", "category": "手工艺品", "above_threshold": False}
            ),
            source=SOURCE, subject="P001/S-10002", time=_at("2026-01-20T03:00:00+08:00"), serial=105,
            region="441900", platformid="P001",
        ),
    ],
    StoreUpdated.event_type: [
        Golden(
            data=StoreUpdated.model_validate(_STORE | {"region": "330113", "period": "2026H2", "changed": ["region", "address"]}),
            source=SOURCE, subject="P001/S-88231", time=_at("2026-07-20T03:00:00+08:00"), serial=106,
            region="330113", platformid="P001",
        ),
    ],
    StoreClosed.event_type: [
        Golden(
            data=StoreClosed.model_validate(
                {"platform_id": "P001", "store_id": "S-88231", "uscc": "91330106MA2H0C3T5D", "region": "330106",
                 "submission_id": SUBMISSION, "period": "2026H2", "closed_at": "2026-07-20T03:00:00+08:00"}
            ),
            source=SOURCE, subject="P001/S-88231", time=_at("2026-07-20T03:00:00+08:00"), serial=107,
            region="330106", platformid="P001",
        ),
    ],
    ReportSubmitted.event_type: [
        Golden(
            data=ReportSubmitted.model_validate(
                {"platform_id": "P001", "report_id": "019b7a10-4c00-7000-8000-0000000000b1", "month": "2026-10", "revision": 1,
                 "submitted_at": "2026-11-05T16:20:00+08:00",
                 "sales": [
                     {"category": "食品", "region": "330106", "gmv_cny": "18250340.50", "orders": 412033},
                     {"category": "服装", "region": "330106", "gmv_cny": "9120000.00", "orders": 98511},
                     {"category": "食品", "region": "441900", "gmv_cny": "351200.00", "orders": 8120},
                 ],
                 "stores_by_category": [{"category": "食品", "stores": 1290}, {"category": "服装", "stores": 611}]}
            ),
            source=SOURCE, subject="P001/2026-10", time=_at("2026-11-05T16:20:00+08:00"), serial=108,
            region="330106", platformid="P001", traceparent=TRACEPARENT,
        ),
        Golden(
            # A correction: revision 2 of the same month replaces revision 1 whole.
            data=ReportSubmitted.model_validate(
                {"platform_id": "P001", "report_id": "019b7a10-4c00-7000-8000-0000000000b2", "month": "2026-10", "revision": 2,
                 "submitted_at": "2026-11-06T09:00:00+08:00",
                 "sales": [{"category": "食品", "region": "330106", "gmv_cny": "18250340.50", "orders": 412033}],
                 "stores_by_category": [{"category": "食品", "stores": 1290}]}
            ),
            source=SOURCE, subject="P001/2026-10", time=_at("2026-11-06T09:00:00+08:00"), serial=109,
            region="330106", platformid="P001",
        ),
    ],
}
