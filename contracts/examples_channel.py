"""Golden examples of channel's handling events and of the platforms' first-handling answers.

They follow two items through the canal: complaint ``…0001`` (platform P001, received 2026-11-20 under
Order 121) from assignment to a closed mediation, and report ``…0002`` (P002, received 2026-03-01 under
Order 20) through verification. Deadlines are what the working-day calendar gives for those dates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from contracts.events.base import EventData
from contracts.events.channel import (
    ComplaintAccepted,
    ComplaintAnswered,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintDeadlineApproaching,
    ComplaintDeadlineMissed,
    ComplaintEscalated,
    ComplaintFactsMerged,
    ComplaintFlagCleared,
    ComplaintFlagged,
    ComplaintMediationEnded,
    ComplaintMediationPaused,
    ComplaintMediationResumed,
    ComplaintMediationSessionRecorded,
    ComplaintMediationStarted,
    ComplaintPlatformResponded,
    ComplaintReferred,
    ComplaintRefused,
    ComplaintVerificationExtended,
    ComplaintVerificationStarted,
)
from contracts.golden_example import TRACEPARENT, Golden

COMPLAINT: Final = "019a9c4e-5a00-7000-8000-000000000001"
REPORT: Final = "019a9c4e-5a00-7000-8000-000000000002"
CHANNEL: Final = "/redshield/channel"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _complaint(model: type[EventData], at: str, serial: int, **data: Any) -> Golden:
    body = {"complaint_id": COMPLAINT, "platform_id": "P001", "region": "330106", "at": at, **data}
    return Golden(data=model.model_validate(body), source=CHANNEL, subject=COMPLAINT, time=_at(at), serial=serial, region="330106",
                  platformid="P001", traceparent=TRACEPARENT)


def _report(model: type[EventData], at: str, serial: int, **data: Any) -> Golden:
    body = {"complaint_id": REPORT, "platform_id": "P002", "region": "330100", "at": at, **data}
    return Golden(data=model.model_validate(body), source=CHANNEL, subject=REPORT, time=_at(at), serial=serial, region="330100",
                  platformid="P002")


GOLDEN_CHANNEL: Final[dict[str, list[Golden]]] = {
    ComplaintAssigned.event_type: [
        _complaint(ComplaintAssigned, "2026-11-20T09:30:02.500+08:00", 101, state="assigned_to_platform", previous_state="received",
                   by="system", platform_complaint_id="TM-2026-000123",
                   deadline={"kind": "first_handling", "due": "2026-12-04", "provisional": False}),
    ],
    ComplaintAnswered.event_type: [
        Golden(
            data=ComplaintAnswered.model_validate(
                {"complaint_id": COMPLAINT, "outcome": "contested", "reason": "商品已按约定发货，霉味系消费者保存不当所致。"}
            ),
            source="/platforms/P001", subject=COMPLAINT, time=_at("2026-11-25T15:00:00+08:00"), serial=102, platformid="P001",
        ),
        Golden(
            data=ComplaintAnswered.model_validate({"complaint_id": COMPLAINT, "outcome": "settled", "refund_amount": "299.00"}),
            source="/platforms/P001", subject=COMPLAINT, time=_at("2026-11-25T15:00:00+08:00"), serial=103, platformid="P001",
        ),
    ],
    ComplaintPlatformResponded.event_type: [
        _complaint(ComplaintPlatformResponded, "2026-11-25T15:00:01+08:00", 104, state="platform_contested",
                   previous_state="assigned_to_platform", by="platform", outcome="contested",
                   reason="商品已按约定发货，霉味系消费者保存不当所致。"),
        _complaint(ComplaintPlatformResponded, "2026-11-25T15:00:01+08:00", 105, state="platform_settled",
                   previous_state="assigned_to_platform", by="platform", outcome="settled", refund_amount="299.00"),
    ],
    ComplaintReferred.event_type: [
        _complaint(ComplaintReferred, "2026-11-25T15:00:01+08:00", 106, state="awaiting_acceptance", previous_state="platform_contested",
                   by="system", reason="contested", deadline={"kind": "acceptance", "due": "2026-12-04", "provisional": False}),
    ],
    ComplaintAccepted.event_type: [
        _complaint(ComplaintAccepted, "2026-12-01T10:00:00+08:00", 107, state="accepted", previous_state="awaiting_acceptance",
                   by="bureau"),
    ],
    ComplaintRefused.event_type: [
        _complaint(ComplaintRefused, "2026-12-01T10:00:00+08:00", 108, state="refused", previous_state="awaiting_acceptance", by="bureau",
                   ground="time_barred", detail="消费者知道权益受损已超过三年。"),
    ],
    ComplaintMediationStarted.event_type: [
        # 60 days from acceptance end on Sat 30 Jan 2027 and roll to Mon 1 Feb; 2027 has no official data yet.
        _complaint(ComplaintMediationStarted, "2026-12-02T14:00:00+08:00", 109, state="mediation", previous_state="accepted", by="bureau",
                   deadline={"kind": "mediation", "due": "2027-02-01", "provisional": True}),
    ],
    ComplaintMediationSessionRecorded.event_type: [
        _complaint(ComplaintMediationSessionRecorded, "2026-12-01T15:00:00+08:00", 130, state="mediation", previous_state="mediation",
                   by="bureau", session_id="019ad0a0-1000-7000-8000-000000000031", held_at="2026-12-01T14:00:00+08:00", form="phone",
                   parties=["consumer", "merchant", "mediator"], deadline={"kind": "mediation", "due": "2027-02-01", "provisional": True}),
    ],
    ComplaintMediationPaused.event_type: [
        _complaint(ComplaintMediationPaused, "2026-12-02T10:00:00+08:00", 131, state="mediation", previous_state="mediation",
                   by="bureau", reason="testing"),
    ],
    ComplaintMediationResumed.event_type: [
        _complaint(ComplaintMediationResumed, "2026-12-12T10:00:00+08:00", 132, state="mediation", previous_state="mediation",
                   by="bureau", paused_days=10, deadline={"kind": "mediation", "due": "2027-02-11", "provisional": True}),
    ],
    ComplaintMediationEnded.event_type: [
        _complaint(ComplaintMediationEnded, "2026-12-18T16:30:00+08:00", 110, state="mediation_ended", previous_state="mediation",
                   by="bureau", ground="agreement", deadline={"kind": "mediation_end_notice", "due": "2026-12-29", "provisional": False}),
    ],
    ComplaintClosed.event_type: [
        _complaint(ComplaintClosed, "2026-12-21T09:00:00+08:00", 111, state="closed", previous_state="mediation_ended", by="bureau",
                   outcome="mediation_agreement", reason="双方达成调解协议，商家退款299元。"),
    ],
    ComplaintDeadlineApproaching.event_type: [
        _complaint(ComplaintDeadlineApproaching, "2026-12-02T00:00:01+08:00", 112, state="assigned_to_platform",
                   deadline={"kind": "first_handling", "due": "2026-12-04", "provisional": False}),
    ],
    ComplaintDeadlineMissed.event_type: [
        _complaint(ComplaintDeadlineMissed, "2026-12-05T00:00:01+08:00", 113, state="assigned_to_platform",
                   deadline={"kind": "first_handling", "due": "2026-12-04", "provisional": False}),
    ],
    ComplaintVerificationStarted.event_type: [
        _report(ComplaintVerificationStarted, "2026-03-01T08:00:03+08:00", 114, state="verification", previous_state="received",
                by="system", deadline={"kind": "verification", "due": "2026-03-20", "provisional": False}),
    ],
    ComplaintVerificationExtended.event_type: [
        _report(ComplaintVerificationExtended, "2026-03-18T11:00:00+08:00", 115, state="verification", previous_state="verification",
                by="bureau", deadline={"kind": "verification", "due": "2026-04-13", "provisional": False}),
    ],
    ComplaintEscalated.event_type: [
        _report(ComplaintEscalated, "2026-04-08T17:00:00+08:00", 116, state="escalated_as_clue", previous_state="verification", by="bureau",
                finding="店铺销售的耳机经品牌方鉴定为假冒注册商标商品。"),
    ],
    ComplaintFactsMerged.event_type: [
        # The same reporter about the same store, with new facts: the clock of the open report starts again.
        _report(ComplaintFactsMerged, "2026-03-10T09:00:00+08:00", 117, state="verification", previous_state="verification",
                by="system", platform_complaint_id="JD-R-5521",
                deadline={"kind": "verification", "due": "2026-03-31", "provisional": False}),
    ],
    ComplaintFlagged.event_type: [
        _complaint(ComplaintFlagged, "2026-11-20T09:30:02.500+08:00", 118, state="assigned_to_platform",
                   flag_id="019a9c4e-5a00-7000-8000-0000000000f1", pattern="volume", detail="12 filings by this consumer within 30 days",
                   rule_id="claimants/volume"),
    ],
    ComplaintFlagCleared.event_type: [
        _complaint(ComplaintFlagCleared, "2026-11-23T10:00:00+08:00", 119, state="assigned_to_platform",
                   flag_id="019a9c4e-5a00-7000-8000-0000000000f1", pattern="volume", by="bureau",
                   reason="核实为家庭共用手机号，非职业索赔。"),
    ],
}
