"""What the ingest sends is what ClickHouse keeps: every processor row of every golden example, inserted through
:class:`ClickHouse` (JSONCompactEachRow from orjson), reads back equal to the row — times to the millisecond,
money to the fen, arrays, empty and NULL values included."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.analytics.clickhouse import ClickHouse, connect, encode_rows, migrate
from services.analytics.processors import COLUMNS, Position, process
from tests.analytics.test_processors import INGESTED, golden_envelopes


def as_stored(value: Any) -> Any:
    """A Python value as DateTime64(3, 'UTC') gives it back: naive UTC, whole milliseconds."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC).replace(tzinfo=None)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if isinstance(value, list):
        return [as_stored(item) for item in value]
    return value


async def test_every_processor_row_reads_back_as_it_was_sent(chdb_url: str, prefix: str) -> None:
    ch = ClickHouse(connect(chdb_url, prefix.strip(".") + "_roundtrip"))
    migrate(ch.client)
    sent: dict[str, list[tuple[Any, ...]]] = {}
    for n, envelope in enumerate(golden_envelopes()):
        for table, rows in process(envelope, Position("golden.v1", 0, n), INGESTED).by_table.items():
            sent.setdefault(table, []).extend(rows)
    assert {
        "events", "complaints", "platforms", "stores", "websites", "new_form_subjects", "complaint_transitions", "gmv_reports",
    } <= sent.keys()
    for table, rows in sent.items():
        await ch.insert(table, rows, COLUMNS[table], f"roundtrip-{table}")
        columns = ", ".join(COLUMNS[table])
        stored = await ch.query(f"SELECT {columns} FROM {table} ORDER BY {columns}")
        expected = sorted(tuple(as_stored(v) for v in row) for row in rows)
        assert sorted(stored) == expected, table
    ch.close()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1234567.89"), b'"1234567.89"'),
        (datetime(2026, 11, 28, 8, 0, 0, 123456, tzinfo=UTC), b'"2026-11-28T08:00:00.123456+00:00"'),
        (date(2026, 11, 28), b'"2026-11-28"'),
        (None, b"null"),
        ("换行\n与\"引号\"", b'"\xe6\x8d\xa2\xe8\xa1\x8c\\n\xe4\xb8\x8e\\"\xe5\xbc\x95\xe5\x8f\xb7\\""'),
    ],
)
def test_values_are_encoded_so_that_clickhouse_reads_them_exactly(value: Any, text: bytes) -> None:
    assert encode_rows([(value,)]) == b"[" + text + b"]"


def test_rows_are_json_arrays_separated_by_commas() -> None:
    assert encode_rows([(1, "a"), (2, "b")]) == b'[1,"a"],[2,"b"]'
    assert encode_rows([]) == b""


async def test_a_block_larger_than_a_chunk_and_than_chdbs_parallel_parsing_unit_reads_back_whole(chdb_url: str, prefix: str) -> None:
    # 2,500 rows of ~5 KiB: three orjson chunks joined, and more than chDB's 10 MB parallel-parsing unit, which has
    # to find row boundaries between commas.
    ch = ClickHouse(connect(chdb_url, prefix.strip(".") + "_chunks"))
    migrate(ch.client)
    rows = [(f"E-{n:05d}", "t", "s", "x", datetime(2026, 11, 28, tzinfo=UTC), "", "", "数据,[]" * 900 + str(n), "t", 0, n, 1,
             datetime(2026, 11, 28, tzinfo=UTC)) for n in range(2500)]
    block = encode_rows(rows)
    assert len(block) > 10 * 1024 * 1024
    ch.insert_encoded_now("events", block, COLUMNS["events"], "chunks")
    stored = await ch.query("SELECT count(), sum(lengthUTF8(data)), min(offset), max(offset), uniqExact(event_id) FROM events")
    assert stored == [(2500, sum(len(row[7]) for row in rows), 0, 2499, 2500)]
    ch.close()


def test_a_value_clickhouse_cannot_take_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="complex"):
        encode_rows([(1j,)])
