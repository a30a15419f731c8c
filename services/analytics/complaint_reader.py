"""The ``complaints`` row of a ComplaintReceived event read straight from its data, without the pydantic model.

Nearly every event analytics takes is a ComplaintReceived, and validating its model was the largest single cost
of the ingest's Python (~6 µs of ~45 per event). :func:`plain_complaint_row` reads data that is *plainly* valid —
exact JSON types, amounts in plain digits, timestamps in the one RFC 3339 shape channel writes — and answers None
for anything else, which then goes through the model as before. So the model stays the judge: this reader may
decline data the model accepts, never accept data the model refuses, and gives the model's row when it accepts
(tests/analytics/test_complaint_reader.py holds it to that on generated data)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from contracts.codes import ComplaintCategory, FilingKind, IntakeChannel, RuleSet
from contracts.events.channel import Attachment, ComplaintReceived, MerchantRef, OrderRef

_KINDS: Final = frozenset(m.value for m in FilingKind)
_INTAKES: Final = frozenset(m.value for m in IntakeChannel)
_RULE_SETS: Final = frozenset(m.value for m in RuleSet)
_CATEGORIES: Final = frozenset(m.value for m in ComplaintCategory)
_FIELDS: Final = frozenset(ComplaintReceived.model_fields)
_REQUIRED: Final = frozenset(name for name, f in ComplaintReceived.model_fields.items() if f.is_required())
_MERCHANT_FIELDS: Final = frozenset(MerchantRef.model_fields)
_ORDER_FIELDS: Final = frozenset(OrderRef.model_fields)
_ATTACHMENT_FIELDS: Final = frozenset(Attachment.model_fields)

_REGION: Final = re.compile(r"[0-9]{6}")
#: Plain decimal digits: what ``Decimal()`` reads the same way everywhere (no exponents, signs, spaces or NaN).
_AMOUNT: Final = re.compile(r"[0-9]{1,13}(\.[0-9]{1,2})?")
#: The shape channel writes (``isoformat()`` of an aware datetime): where this and pydantic's parser could differ
#: (other separators, leap seconds, offsets with seconds or beyond ±14 h, years before 1000), the model decides.
_MOMENT: Final = re.compile(
    r"[12][0-9]{3}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\.[0-9]{3}|\.[0-9]{6})?"
    r"(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])"
)
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_MEDIA_TYPE: Final = re.compile(r"[a-z]+/[a-z0-9][a-z0-9.+-]{0,99}")


def _moment(value: object) -> datetime | None:
    if type(value) is not str or not _MOMENT.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def _attachments(value: object) -> bool:
    """None, or a list of attachments the model takes as they are (it keeps no part of them in the row)."""
    if value is None:
        return True
    if type(value) is not list:
        return False
    for item in value:
        if type(item) is not dict or item.keys() != _ATTACHMENT_FIELDS:
            return False
        digest, size, media_type = item["sha256"], item["size_bytes"], item["media_type"]
        if not (
            type(digest) is str
            and _SHA256.fullmatch(digest)
            and type(size) is int
            and 1 <= size <= 1_073_741_824
            and type(media_type) is str
            and _MEDIA_TYPE.fullmatch(media_type)
        ):
            return False
    return True


def plain_complaint_row(data: dict[str, Any], event_time: datetime, ingested_at: datetime) -> tuple[Any, ...] | None:
    """The ``complaints`` row (processors.COMPLAINT_COLUMNS) of plainly valid ComplaintReceived data, else None."""
    keys = data.keys()
    if not (keys <= _FIELDS and keys >= _REQUIRED):
        return None
    complaint_id, platform_id, platform_complaint_id = data["complaint_id"], data["platform_id"], data["platform_complaint_id"]
    kind, intake, rule_set, category = data["kind"], data["intake"], data["rule_set"], data["category"]
    region, description = data["region"], data["description"]
    consumer_hash, linked = data.get("consumer_hash"), data.get("linked_complaint_id")
    if not (
        type(complaint_id) is str
        and type(platform_id) is str
        and type(platform_complaint_id) is str
        and type(description) is str
        and type(kind) is str
        and kind in _KINDS
        and type(intake) is str
        and intake in _INTAKES
        and type(rule_set) is str
        and rule_set in _RULE_SETS
        and type(category) is str
        and category in _CATEGORIES
        and type(region) is str
        and _REGION.fullmatch(region)
        and (consumer_hash is None or type(consumer_hash) is str)
        and (linked is None or type(linked) is str)
        and _attachments(data.get("attachments"))
    ):
        return None
    received_at = _moment(data["received_at"])
    merchant, order = data["merchant"], data["order"]
    if received_at is None or type(merchant) is not dict or type(order) is not dict:
        return None
    if not (merchant.keys() <= _MERCHANT_FIELDS and order.keys() <= _ORDER_FIELDS):
        return None
    store_id, store_name = merchant.get("store_id"), merchant.get("store_name")
    uscc, merchant_region = merchant.get("uscc"), merchant.get("region")
    order_id, amount, goods_category = order.get("order_id"), order.get("amount"), order.get("goods_category")
    if not (
        type(store_id) is str
        and type(store_name) is str
        and (uscc is None or type(uscc) is str)
        and (merchant_region is None or (type(merchant_region) is str and _REGION.fullmatch(merchant_region)))
        and (order_id is None or type(order_id) is str)
        and type(amount) is str
        and _AMOUNT.fullmatch(amount)
        and type(goods_category) is str
    ):
        return None
    return (
        complaint_id,
        platform_id,
        platform_complaint_id,
        kind,
        intake,
        received_at,
        rule_set,
        region,
        store_id,
        store_name,
        uscc or "",
        merchant_region or "",
        Decimal(amount),
        goods_category,
        category,
        description,
        consumer_hash or "",
        "received",
        event_time.astimezone(UTC),
        ingested_at,
    )
