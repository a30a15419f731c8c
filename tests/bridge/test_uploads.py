"""An upload read a chunk of lines at a time gives the same rows and line errors, numbered alike, as read line by line."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.bridge.uploads import MAX_LINE_BYTES, Format, LineError, Row, RowStream

# Lines a platform's NDJSON file plausibly holds, good and bad: objects (with Chinese text), other JSON values,
# broken JSON, blank lines, bytes that are not UTF-8, encoded surrogates, a BOM where only line 1 may have one.
_LINES = st.sampled_from([
    orjson.dumps({"store_id": "S1", "merchant_name": "杭州一号有限公司"}),
    orjson.dumps({"store_id": "S2", "category": "食品", "above_threshold": True}),
    b'{"store_id": "S3"}  ',
    b"[1, 2]",
    b'"text"',
    b"{not json",
    b"",
    b"   ",
    b"\t",
    b'{"store_id": "\xff"}',
    b'{"store_id": "\xed\xa0\x80"}',
    b'\xef\xbb\xbf{"store_id": "S4"}',
    b"\x00",
])


def _chunked(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        start = 0
        for cut in sorted({c % (len(body) + 1) for c in cuts}):
            yield body[start:cut]
            start = cut
        yield body[start:]

    return chunks()


async def _both_ways(body: bytes, cuts: list[int]) -> tuple[list[Row | LineError], list[Row | LineError]]:
    by_line = await RowStream.open(_chunked(body, cuts), Format.NDJSON)
    by_chunk = await RowStream.open(_chunked(body, cuts), Format.NDJSON)
    one_by_one = [item async for item in by_line._one_by_one()]
    batched = [item async for items in by_chunk.batches() for item in items]
    assert by_line.reader.number == by_chunk.reader.number and by_line.reader.bytes_read == by_chunk.reader.bytes_read
    return one_by_one, batched


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_LINES, max_size=40),
    blank_first=st.integers(0, 2),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    cuts=st.lists(st.integers(0, 4000), max_size=8),
)
async def test_a_file_read_a_chunk_at_a_time_gives_what_reading_it_line_by_line_gives(
    lines: list[bytes], blank_first: int, crlf: bool, final_newline: bool, cuts: list[int]
) -> None:
    # The first line that is not blank must be an object: anything else is refused as not NDJSON before any row.
    first = orjson.dumps({"store_id": "S0"})
    end = b"\r\n" if crlf else b"\n"
    body = end.join([b""] * blank_first + [first, *lines]) + (end if final_newline else b"")
    one_by_one, batched = await _both_ways(body, cuts)
    assert batched == one_by_one
    assert [item.line for item in batched] == sorted(item.line for item in batched)


async def test_rows_keep_their_line_numbers_and_bad_lines_say_why() -> None:
    body = b'{"store_id": "S1"}\r\n\r\n[1]\n{"store_id": "\xff"}\n{broken\n{"store_id": "S6"}'
    _, items = await _both_ways(body, [7, 25])
    assert [(i.line, type(i).__name__, getattr(i, "code", None)) for i in items] == [
        (1, "Row", None), (3, "LineError", "not-an-object"), (4, "LineError", "not-utf8"), (5, "LineError", "not-json"), (6, "Row", None)]
    assert items[-1] == Row(6, {"store_id": "S6"})


@pytest.mark.parametrize("newline_after", [True, False])
async def test_a_line_longer_than_the_limit_is_one_line_error_and_the_rows_after_it_go_on(newline_after: bool) -> None:
    huge = b'{"store_id": "' + b"x" * (MAX_LINE_BYTES + 200_000) + b'"}'
    body = b'{"store_id": "S1"}\n' + huge + (b'\n{"store_id": "S3"}\n' if newline_after else b"")
    # In 64 KiB chunks, as an HTTP body comes: the line is found too long once its first MiB is in without its end.
    one_by_one, batched = await _both_ways(body, list(range(1 << 16, len(body), 1 << 16)))
    assert batched == one_by_one
    assert [(i.line, getattr(i, "code", "row")) for i in batched][:2] == [(1, "row"), (2, "line-too-long")]
    if newline_after:
        assert batched[2] == Row(3, {"store_id": "S3"})
