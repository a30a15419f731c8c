"""Golden examples of bridge's events (merged into ``contracts.examples.GOLDEN``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from contracts.events.bridge import (
    DataRequestDelivered,
    DataRequestIssued,
    DataRequestOverdue,
    FairOnlineItemAssigned,
    FairOnlineOutcomeReturned,
    NewFormSubjectRegistered,
    NewFormSubjectUpdated,
    PlatformRegistered,
    PlatformUpdated,
    ReportSubmitted,
    StoreClosed,
    StoreRegistered,
    StoresBatchApplied,
    StoreUpdated,
    SubmissionApplied,
    SubmissionMissed,
    WebsiteRegistered,
    WebsiteUpdated,
)
from contracts.golden_example import TRACEPARENT, Golden

SOURCE: Final = "/redshield/bridge"
SUBMISSION: Final = "019b3f2a-6c00-7000-8000-0000000000a1"
REQUEST: Final = "019d6b2c-7800-7000-8000-0000000000c1"
BATCH: Final = "019d4e1a-9c00-7000-8000-0000000000e1"


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

_WEBSITE: Final = {
    "website_id": "W-330106-0001",
    "operator_name": "杭州西湖茶叶有限公司",
    "uscc": "91330106MA2H0C3T5D",
    "uscc_check": "valid",
    "domain": "xihutea.com.cn",
    "url": "https://www.xihutea.com.cn/",
    "icp_filing": "浙ICP备12345678号-1",
    "region": "330106",
    "region_check": "valid",
    "category": "食品",
    "status": "active",
    "version": 1,
}

_NEW_FORM_SUBJECT: Final = {
    "platform_id": "P001",
    "subject_id": "LIVE-20931",
    "form": "live_streamer",
    "name": "杭州茶语文化传媒有限公司",
    "uscc": "91330106MA2H0C3T5D",
    "uscc_check": "valid",
    "exemption_declared": False,
    "region": "330106",
    "region_check": "valid",
    "handle": "茶语小西",
    "url": "https://live.example.com/room/20931",
    "category": "食品",
    "version": 1,
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
        Golden(
            # Posted in a batch between two submissions: the batch's id stands where a submission's would.
            data=StoreUpdated.model_validate(_STORE | {"shop_name": "西湖龙井旗舰店", "submission_id": BATCH, "changed": ["shop_name"]}),
            source=SOURCE, subject="P001/S-88231", time=_at("2026-03-16T11:20:00+08:00"), serial=124,
            region="330106", platformid="P001",
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
    WebsiteRegistered.event_type: [
        Golden(
            data=WebsiteRegistered.model_validate(_WEBSITE),
            source=SOURCE, subject="W-330106-0001", time=_at("2026-03-02T10:00:00+08:00"), serial=117,
            region="330106", traceparent=TRACEPARENT,
        ),
        Golden(
            # A Chinese domain name, kept in its IDNA form; the operator's code fails its check character (flagged).
            data=WebsiteRegistered.model_validate(
                _WEBSITE | {"website_id": "W-330114-0002", "operator_name": "钱塘生鲜配送有限公司", "uscc": "91330110MA27XL0Q10",
                            "uscc_check": "check_failed", "domain": "xn--n7w685b4re.xn--fiqs8s", "url": None,
                            "icp_filing": "浙ICP备2021012345号", "region": "330114", "category": "生鲜"}
            ),
            source=SOURCE, subject="W-330114-0002", time=_at("2026-03-02T11:00:00+08:00"), serial=118,
            region="330114",
        ),
    ],
    WebsiteUpdated.event_type: [
        Golden(
            data=WebsiteUpdated.model_validate(_WEBSITE | {"status": "suspended", "version": 2, "changed": ["status"]}),
            source=SOURCE, subject="W-330106-0001", time=_at("2026-05-06T09:00:00+08:00"), serial=119,
            region="330106",
        ),
    ],
    NewFormSubjectRegistered.event_type: [
        Golden(
            data=NewFormSubjectRegistered.model_validate(_NEW_FORM_SUBJECT),
            source=SOURCE, subject="P001/LIVE-20931", time=_at("2026-03-10T14:00:00+08:00"), serial=120,
            region="330106", platformid="P001", traceparent=TRACEPARENT,
        ),
        Golden(
            # A group-buying leader without a licence: no USCC, the exemption declared; the ID number stays in bridge.
            data=NewFormSubjectRegistered.model_validate(
                _NEW_FORM_SUBJECT | {"subject_id": "GB-7781", "form": "group_buying_leader", "name": "王阿姨", "uscc": None,
                                     "uscc_check": None, "exemption_declared": True, "region": "330110", "handle": "良渚文化村3号团",
                                     "url": None, "category": "生鲜"}
            ),
            source=SOURCE, subject="P001/GB-7781", time=_at("2026-03-10T14:05:00+08:00"), serial=121,
            region="330110", platformid="P001",
        ),
    ],
    NewFormSubjectUpdated.event_type: [
        Golden(
            data=NewFormSubjectUpdated.model_validate(_NEW_FORM_SUBJECT | {"handle": "茶语小西官方", "version": 2, "changed": ["handle"]}),
            source=SOURCE, subject="P001/LIVE-20931", time=_at("2026-06-01T09:30:00+08:00"), serial=122,
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
    SubmissionApplied.event_type: [
        Golden(
            data=SubmissionApplied.model_validate(
                {"platform_id": "P001", "submission_id": SUBMISSION, "period": "2026H1", "received_at": "2026-01-20T02:58:00+08:00",
                 "applied_at": "2026-01-20T03:00:00+08:00", "deadline": "2026-02-01T00:00:00+08:00", "on_time": True,
                 "rows_total": 1302, "rows_staged": 1299, "rows_refused": 3, "rows_flagged": 7, "registered": 12, "updated": 40,
                 "closed": 2, "unchanged": 1247}
            ),
            source=SOURCE, subject="P001", time=_at("2026-01-20T03:00:00+08:00"), serial=110,
            region="330106", platformid="P001", traceparent=TRACEPARENT,
        ),
    ],
    StoresBatchApplied.event_type: [
        Golden(
            data=StoresBatchApplied.model_validate(
                {"platform_id": "P001", "batch_id": BATCH, "period": "2026H1", "received_at": "2026-03-16T11:20:00+08:00", "records": 100,
                 "created": 3, "updated": 9, "unchanged": 85, "duplicate": 1, "refused": 2, "flagged": 1}
            ),
            source=SOURCE, subject="P001", time=_at("2026-03-16T11:20:00+08:00"), serial=123,
            region="330106", platformid="P001", traceparent=TRACEPARENT,
        ),
    ],
    SubmissionMissed.event_type: [
        Golden(
            data=SubmissionMissed.model_validate(
                {"platform_id": "P002", "period": "2026H1", "deadline": "2026-02-01T00:00:00+08:00",
                 "noted_at": "2026-02-01T00:05:00+08:00"}
            ),
            source=SOURCE, subject="P002", time=_at("2026-02-01T00:05:00+08:00"), serial=111,
            region="330114", platformid="P002",
        ),
    ],
    DataRequestIssued.event_type: [
        Golden(
            data=DataRequestIssued.model_validate(
                {"request_id": REQUEST, "platform_id": "P001",
                 "legal_basis": "《网络交易监督管理办法》第二十条、第三十四条",
                 "scope": {"subjects": ["S-88231", "91330106MA2H0C3T5D"], "period_from": "2026-01-01", "period_to": "2026-03-31",
                           "fields": ["sales", "price", "after_sales"]},
                 "due": "2026-04-14", "due_provisional": False, "issued_by": "regulator:wang", "issued_at": "2026-04-07T10:00:00+08:00"}
            ),
            source=SOURCE, subject=REQUEST, time=_at("2026-04-07T10:00:00+08:00"), serial=112,
            region="330106", platformid="P001", traceparent=TRACEPARENT,
        ),
    ],
    DataRequestDelivered.event_type: [
        Golden(
            data=DataRequestDelivered.model_validate(
                {"request_id": REQUEST, "platform_id": "P001", "delivery_id": "019d6b2c-7800-7000-8000-0000000000d1", "format": "file",
                 "content_type": "text/csv", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                 "size_bytes": 48211, "delivered_at": "2026-04-10T15:30:00+08:00", "late": False}
            ),
            source=SOURCE, subject=REQUEST, time=_at("2026-04-10T15:30:00+08:00"), serial=113,
            region="330106", platformid="P001",
        ),
    ],
    DataRequestOverdue.event_type: [
        Golden(
            data=DataRequestOverdue.model_validate(
                {"request_id": REQUEST, "platform_id": "P001", "due": "2026-04-14", "overdue_at": "2026-04-15T00:00:30+08:00"}
            ),
            source=SOURCE, subject=REQUEST, time=_at("2026-04-15T00:00:30+08:00"), serial=114,
            region="330106", platformid="P001",
        ),
    ],
    FairOnlineItemAssigned.event_type: [
        Golden(
            data=FairOnlineItemAssigned.model_validate(
                {"item_id": "ZJGP-2026-0412-0007", "title": "直播间宣称“全网最低价”涉嫌虚假宣传", "category": "虚假宣传",
                 "description": "监测发现该直播间在4月10日直播中多次宣称全网最低价，无依据。", "region": "330106",
                 "platform_id": "P001", "platform_uscc": "91330100716105852F", "merchant_uscc": "91330106MA2H0C3T5D",
                 "store_url": "https://shop.example.com/s/88231", "assigned_at": "2026-04-12T09:00:00+08:00", "due": "2026-05-12",
                 "received_via": "kafka", "received_at": "2026-04-12T09:00:04+08:00"}
            ),
            source=SOURCE, subject="ZJGP-2026-0412-0007", time=_at("2026-04-12T09:00:04+08:00"), serial=115,
            region="330106", platformid="P001", traceparent=TRACEPARENT,
        ),
    ],
    FairOnlineOutcomeReturned.event_type: [
        Golden(
            data=FairOnlineOutcomeReturned.model_validate(
                {"item_id": "ZJGP-2026-0412-0007", "outcome": "case_filed", "reasons": ["直播录像证实无价格比较依据"],
                 "case_number": "杭市监立〔2026〕118号", "region": "330106", "decided_by": "bureau:zhao",
                 "returned_at": "2026-04-20T16:00:00+08:00"}
            ),
            source=SOURCE, subject="ZJGP-2026-0412-0007", time=_at("2026-04-20T16:00:00+08:00"), serial=116,
            region="330106",
        ),
    ],
}
