"""The plain reader of ComplaintReceived data may decline what the model accepts, never accepts what the model
refuses, and gives the model's row whenever it accepts."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.events.channel import ComplaintReceived
from contracts.examples import GOLDEN
from services.analytics.clickhouse import encode_rows
from services.analytics.complaint_reader import plain_complaint_row
from services.analytics.processors import model_complaint_row

EVENT_TIME = datetime(2026, 11, 20, 1, 30, 5, 123456, tzinfo=UTC)
INGESTED = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
GOLDEN_DATA = [g.data.model_dump(mode="json", exclude_none=True) for g in GOLDEN[ComplaintReceived.event_type]]


def model_outcome(data: dict[str, Any]) -> tuple[Any, ...] | None:
    try:
        return model_complaint_row(data, EVENT_TIME, INGESTED)
    except ValueError:  # pydantic's ValidationError, and the amount's own check
        return None


def test_every_golden_complaint_is_read_plainly_into_the_models_row() -> None:
    assert GOLDEN_DATA
    for data in GOLDEN_DATA:
        row = plain_complaint_row(data, EVENT_TIME, INGESTED)
        assert row is not None, data
        assert encode_rows([row]) == encode_rows([model_complaint_row(data, EVENT_TIME, INGESTED)])


def test_the_shapes_channel_writes_are_read_plainly() -> None:
    data = copy.deepcopy(GOLDEN_DATA[0])
    for moment in ("2026-11-20T09:30:00Z", "2026-11-20T01:30:00.123+00:00", "2026-11-20T09:30:00.123456+08:00"):
        data["received_at"] = moment
        data["merchant"] = {"store_id": "S-1", "store_name": "店"}
        data["order"] = {"amount": "0", "goods_category": "食品"}
        data["consumer_hash"] = None
        assert plain_complaint_row(data, EVENT_TIME, INGESTED) == model_complaint_row(data, EVENT_TIME, INGESTED)


def test_what_the_model_refuses_is_declined() -> None:
    refused: list[tuple[str, Any]] = [
        ("received_at", "2026-11-20T09:30:00"),  # no offset
        ("region", "33010"),
        ("region", "３３０１０６"),  # full-width digits
        ("kind", "mixed"),  # a filing's kind, not an item's
        ("category", "QUALITY"),
        ("complaint_id", 7),
        ("extra", "field"),
    ]
    for key, value in refused:
        data = copy.deepcopy(GOLDEN_DATA[0]) | {key: value}
        assert model_outcome(data) is None, key
        assert plain_complaint_row(data, EVENT_TIME, INGESTED) is None, key


# -- generated data: the golden complaint with one to three parts replaced or removed --------------------------
_ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=8)),
        timezone(timedelta(hours=-14)),
        timezone(timedelta(hours=14, minutes=30)),
        timezone(timedelta(minutes=-30, seconds=-15)),
    ]
)
_MOMENTS = st.builds(
    lambda moment, spec, z: moment.isoformat(timespec=spec).replace("+00:00", z),
    st.datetimes(min_value=datetime(900, 1, 1), max_value=datetime(2999, 12, 31), timezones=_ZONES),
    st.sampled_from(["seconds", "milliseconds", "microseconds", "minutes"]),
    st.sampled_from(["+00:00", "Z", "z"]),
)
_TRICKY = st.sampled_from(
    [
        "",
        " x",
        "x ",
        "\u3000店",
        "店\u00a0",
        "\x1f店",
        "a" * 200,
        "a" * 201,
        "330106",
        "91330106MA2H0C3T5D",
        "91330106MA2H0C3T5I",
        "299",
        "299.1",
        "0.00",
        "01.00",
        "1e3",
        "299.001",
        " 299.00",
        "1000000000000",
        "report",
        "hotline",
        "12315",
        "samr-order-121",
        "counterfeit",
        "2026-11-20 09:30:00+08:00",
        "2026-11-20T24:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-20T09:30:00.1234567+08:00",
        "2026-11-20T09:30:60Z",
        "2026-11-20T09:30:00+24:00",
    ]
)
_ATTACHMENTS = st.fixed_dictionaries(
    {
        "sha256": st.sampled_from(["9f" * 32, "9F" * 32, "9f" * 31, "9f" * 32 + "\n"]),
        "size_bytes": st.one_of(st.integers(-1, 1_073_741_825), st.sampled_from([5.0, "5", True])),
        "media_type": st.sampled_from(["image/jpeg", "image/svg+xml", "Image/jpeg", "image/", "image/jpeg\n", "a/" + "b" * 100]),
    },
    optional={"unexpected": st.just(1)},
)
_VALUES = st.one_of(
    _TRICKY,
    _MOMENTS,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["store_id", "store_name", "amount", "goods_category", "sha256"]), _TRICKY, max_size=3),
    st.lists(_ATTACHMENTS, max_size=2),
)
_TOP = [*sorted(ComplaintReceived.model_fields), "unexpected"]
_NESTED = {
    "merchant": ["store_id", "store_name", "uscc", "region", "unexpected"],
    "order": ["order_id", "amount", "goods_category", "unexpected"],
}


@st.composite
def mutated_complaints(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(draw(st.sampled_from(GOLDEN_DATA)))
    for _ in range(draw(st.integers(1, 3))):
        target = data
        parent = draw(st.sampled_from([None, "merchant", "order"]))
        if parent is not None and isinstance(data.get(parent), dict):
            target = data[parent]
            key = draw(st.sampled_from(_NESTED[parent]))
        else:
            key = draw(st.sampled_from(_TOP))
        if draw(st.integers(0, 5)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(_VALUES)
    return data


@settings(max_examples=600, deadline=None)
@given(mutated_complaints())
def test_the_plain_reader_accepts_only_what_the_model_accepts_and_gives_its_row(data: dict[str, Any]) -> None:
    row = plain_complaint_row(data, EVENT_TIME, INGESTED)
    if row is not None:
        model_row = model_outcome(data)
        assert model_row is not None, "the plain reader accepted data the model refuses"
        # Equal as ClickHouse receives them too: the same money digits and times, not only equal values.
        assert encode_rows([row]) == encode_rows([model_row])
