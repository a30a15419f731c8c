"""The bulk lane stages exactly what the row path stages, and leaves the row path every line it is not sure of."""

from __future__ import annotations

import json
import struct
import sys
from datetime import date
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import uscc
from contracts.events.bridge import StoreRegistered
from services.bridge import uploads
from services.bridge.bulk_rows import SPACES, BulkCheck, BulkRows, copy_binary, kept, staged_tuples
from services.bridge.store import STAGED_COLUMNS, findings, stores
from services.bridge.store_values import event_fields, store_values
from services.bridge.validation import FastCheck
from services.runtime.keys import FieldCipher
from tests.bridge.conftest import ndjson, outbox_events, query, register, settled, store_row, store_uscc, submit
from tests.harness import Running, running

ON = date(2026, 4, 7)
MAC_KEY = b"redshield-test-mac-key"
CIPHER = FieldCipher("redshield-test-field-key")

# Good values and every kind of value the lane must leave to the row path, all of types Arrow reads as the columns'.
_ODD: dict[str, list[Any]] = {
    "store_id": ["S1", " S2", "S3 ", "", "   ", None, "x" * 200, "x" * 201, 'S"4', "S\\5", "S\t6", "S\u30007"],
    "merchant_name": ["杭州商户有限公司", "", None, "名" * 200, "名" * 201, "\u00a0名", "名\u2028", "名\x7f", "名\u200b"],
    "uscc": [uscc.complete("91330106MA0000001"), uscc.complete("91330106MA0000001").lower(), "91330106MA00000010",
            "91330106MA000000", "", None, " " + uscc.complete("91330106MA0000002"), "91330106MA0000001X"],
    "id_number": ["11010519491231002X", None, ""],
    "exemption_declared": [True, False, None],
    "address": ["文三路1号", "", None, "文三路\n1号"],
    "region": ["330106", "330199", "339999", "999999", "33010", " 330106", None],
    "shop_name": ["店", "", None, "店\u3000"],
    "shop_url": ["https://shop.example.com/s/1", "HTTP://SHOP.EXAMPLE.COM/1", "ftp://x", "http://a b", "http://a\u3000b",
                 "http://a\u0085b", "https://", None],
    "category": ["食品", " 服装 ", ""],
    "contact": ["0571-88000000", "", " ", None, "9" * 100, "9" * 101],
    "above_threshold": [True, False, None],
}
_VALUES = {name: st.sampled_from(values) for name, values in _ODD.items()}
# Most rows of a real file are clean: a few changes per block keep most blocks in the lane.
_ROW = st.one_of(st.just({}), st.just({}), st.dictionaries(st.sampled_from(sorted(_VALUES)), st.none(), max_size=3).flatmap(
    lambda keys: st.fixed_dictionaries({k: _VALUES[k] for k in keys})))


def _line(n: int, change: dict[str, Any], escaped: bool) -> bytes:
    row = store_row(n) | change
    # Python's json escapes every non-ASCII character (\uXXXX): the lane must leave such lines to orjson.
    return json.dumps(row, ensure_ascii=True).encode() if escaped else orjson.dumps(row)


def _row_path(line: bytes, number: int) -> tuple[Any, ...] | None:
    """What the row path stages for a line (None: it stages nothing, or only after a finding)."""
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    record = FastCheck(ON).record(raw) if isinstance(raw, dict) else None
    if record is None:
        return None
    return ("SUB", record.store_id, number, *store_values(record, CIPHER, MAC_KEY), event_fields(record))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_ROW, st.sampled_from([False, False, False, True])), min_size=1, max_size=12),
       st.sampled_from([None] * 12 + [b"", b"   ", b'{"store_id":"A"} {"store_id":"B"}', b"[1]", b"\xff\xfe", b"not json",
                                      b'{"store_id":"S1","contact":7}', b'{"store_id":"S1","extra":"x"}']))
def test_every_row_the_lane_takes_is_staged_as_the_row_path_stages_it(rows: list[tuple[dict[str, Any], bool]], odd: bytes | None) -> None:
    lines = [_line(n, change, escaped) for n, (change, escaped) in enumerate(rows, start=1)]
    if odd is not None:
        lines.insert(len(lines) // 2, odd)
    block = BulkCheck(FastCheck(ON), MAC_KEY).block(lines, 1)
    if block is None:
        return  # the row path reads the whole block
    met: list[int] = []
    for piece in block.in_order(lines):
        if isinstance(piece, BulkRows):
            staged = staged_tuples(piece.rows, "SUB")
            for number, row in zip(piece.lines, staged, strict=True):
                assert row == _row_path(lines[number - 1], number)
            met.extend(number - 1 for number in piece.lines)
        else:
            met.append(piece[0])
    assert met == list(range(len(lines))), "each line once, in file order"


_EACH_VALUE = [(name, value) for name, values in _ODD.items() for value in values]


@pytest.mark.parametrize(("name", "value"), _EACH_VALUE, ids=[f"{name}={value!r}"[:40] for name, value in _EACH_VALUE])
@pytest.mark.parametrize("escaped", [False, True], ids=["utf8", "escaped"])
def test_each_odd_value_alone_is_staged_as_the_row_path_stages_it_or_left_to_it(name: str, value: Any, escaped: bool) -> None:
    lines = [orjson.dumps(store_row(1)), _line(2, {name: value}, escaped), orjson.dumps(store_row(3))]
    block = BulkCheck(FastCheck(ON), MAC_KEY).block(lines, 1)
    assert block is not None
    taken = {number: row for piece in block.in_order(lines) if isinstance(piece, BulkRows)
             for number, row in zip(piece.lines, staged_tuples(piece.rows, "SUB"), strict=True)}
    assert set(taken) | {index + 1 for index in block.deferred} == {1, 2, 3} and {1, 3} <= set(taken)
    for number, row in taken.items():
        assert row == _row_path(lines[number - 1], number)


def test_a_clean_block_is_taken_whole_and_its_binary_copy_holds_the_same_rows() -> None:
    lines = [orjson.dumps(store_row(n, contact=None if n % 3 else "0571-88000000")) for n in range(1, 201)]
    block = BulkCheck(FastCheck(ON), MAC_KEY).block(lines, 5)
    assert block is not None and block.deferred == [] and len(block.runs) == 1
    rows = block.runs[0][1].rows
    tuples = staged_tuples(rows, "SUB")
    assert [row[2] for row in tuples] == list(range(5, 205))
    assert len(tuples[0]) == len(STAGED_COLUMNS)
    assert _read_binary_copy(b"".join(copy_binary(rows, "SUB"))) == [[_as_field(value) for value in row] for row in tuples]


def _as_field(value: Any) -> bytes | None:
    """A staged value as PostgreSQL's binary COPY writes it: text as UTF-8, integer as 4 bytes, boolean as one."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return struct.pack(">i", value)
    return str(value).encode()


def _read_binary_copy(data: bytes) -> list[list[bytes | None]]:
    assert data.startswith(b"PGCOPY\n\xff\r\n\x00") and data.endswith(b"\xff\xff")
    at, rows = 19, []
    while data[at:at + 2] != b"\xff\xff":
        (fields,), at = struct.unpack_from(">h", data, at), at + 2
        row: list[bytes | None] = []
        for _ in range(fields):
            (size,), at = struct.unpack_from(">i", data, at), at + 4
            row.append(None if size == -1 else data[at:at + size])
            at += max(size, 0)
        rows.append(row)
    assert at + 2 == len(data)
    return rows


def test_lines_the_lane_is_unsure_of_are_left_to_the_row_path_in_their_place() -> None:
    lines = [orjson.dumps(store_row(n)) for n in range(1, 11)]
    lines[2] = orjson.dumps(store_row(3, merchant_name=" 前导空格"))
    lines[6] = json.dumps(store_row(7), ensure_ascii=True).encode()
    lines[7] = orjson.dumps(store_row(8, id_number="11010519491231002X", uscc=None, exemption_declared=True))
    block = BulkCheck(FastCheck(ON), MAC_KEY).block(lines, 1)
    assert block is not None and block.deferred == [2, 6, 7]
    order = [piece.lines if isinstance(piece, BulkRows) else piece[0] + 1 for piece in block.in_order(lines)]
    assert order == [[1, 2], 3, [4, 5, 6], 7, 8, [9, 10]]


@pytest.mark.parametrize("odd", [b"", b'{"store_id":"A"} {"store_id":"B"}', b'{"store_id":"S1","merchant_name":42}',
                                 b'{"store_id":"S1","surprise":"x"}', b"\xff\xfe"])
def test_a_block_arrow_cannot_match_line_for_line_is_left_whole_to_the_row_path(odd: bytes) -> None:
    lines = [orjson.dumps(store_row(n)) for n in range(1, 6)]
    assert BulkCheck(FastCheck(ON), MAC_KEY).block([*lines, odd], 1) is None


def test_a_block_mostly_for_the_row_path_is_left_to_it_whole() -> None:
    lines = [orjson.dumps(store_row(n, contact=" 0571" if n % 2 else "0571")) for n in range(1, 11)]
    assert BulkCheck(FastCheck(ON), MAC_KEY, max_deferred_share=0.4).block(lines, 1) is None


def test_a_row_a_batch_gave_up_is_not_staged() -> None:
    lines = [orjson.dumps(store_row(n)) for n in range(1, 5)]
    block = BulkCheck(FastCheck(ON), MAC_KEY).block(lines, 1)
    assert block is not None
    parts = [run for _, run in block.runs]
    # S000002 was listed in an earlier batch (gone from the records); S000003's first line is another one.
    records: dict[str, tuple[int, Any]] = {"S000001": (1, None), "S000003": (99, None), "S000004": (4, None)}
    assert kept(parts, records).column("store_id").to_pylist() == ["S000001", "S000004"]


def _mixed_file() -> bytes:
    rows = [store_row(n) for n in range(1, 301)]
    rows[10] = store_row(11, merchant_name=" 前导空格商户")  # trimmed by the row path
    rows[20] = store_row(21, uscc=store_uscc(21).lower())  # upper-cased by the row path
    rows[30] = store_row(31, uscc="91330106MA0000031X")  # fails its check character: flagged
    rows[40] = store_row(41, uscc=None, id_number="11010519491231002X", exemption_declared=True)
    rows[50] = store_row(5)  # the same store again: a duplicate of line 5
    rows[60] = store_row(61, region="999999")
    rows[70] = store_row(71, shop_url="ftp://x")
    lines = ndjson(rows).split(b"\n")
    lines[80] = json.dumps(store_row(81), ensure_ascii=True).encode()  # escaped: orjson's to judge
    return b"\n".join(lines)


async def _outcome(svc: Running, platform: str, submission_id: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """The platform's stores (without what differs by platform, time or encryption), the findings, the store events."""
    kept_columns = [c for c in stores.c if c.name not in ("platform_id", "id_number_enc", "first_submission_id", "last_submission_id",
                                                          "updated_at")]
    found = await query(svc, sa.select(*kept_columns).where(stores.c.platform_id == platform).order_by(stores.c.store_id))
    reported = await query(svc, sa.select(findings.c.line, findings.c.severity, findings.c.code, findings.c.store_id)
                           .where(findings.c.submission_id == submission_id).order_by(findings.c.line, findings.c.code))
    events = [e for e in await outbox_events(svc) if e.type == StoreRegistered.event_type and e.data["platform_id"] == platform]
    return [tuple(r.values()) for r in found], [tuple(r.values()) for r in reported], len(events)


async def test_a_mixed_file_ends_in_the_same_stores_findings_and_events_through_either_lane(
        monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> None:
    monkeypatch.setenv("REDSHIELD_BRIDGE_SUBMISSION_BATCH_ROWS", "70")
    outcomes = []
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database) as svc:
        for platform, min_lines in (("P001", 1), ("P002", 1 << 30)):
            monkeypatch.setattr(uploads, "_BULK_MIN_LINES", min_lines)
            await register(svc, platform_id=platform)
            response = await submit(svc, _mixed_file(), platform=platform)
            assert response.status_code == 202, response.text
            submission = await settled(svc, response.json()["submission_id"], platform=platform)
            assert submission["state"] == "applied", submission
            outcomes.append(await _outcome(svc, platform, submission["submission_id"]))
    bulk, rows = outcomes
    assert bulk == rows
    stored, reported, events = bulk
    assert len(stored) == 297 and events == 297
    assert {code for _, _, code, _ in reported} == {"duplicate-store-id", "uscc-check-failed", "region-invalid", "url-format"}


def test_arrow_trims_exactly_the_white_space_python_strips() -> None:
    characters = [chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF]
    trimmed = pc.utf8_trim_whitespace(pa.array([f"x{ch}" for ch in characters])).to_pylist()
    assert [ch for ch, text in zip(characters, trimmed, strict=True) if text == "x"] == list(SPACES)
