"""The bulk lane of an NDJSON submission: a block of lines read, checked and made ready to stage a column at a time.

Row by row, a store cost ~20 µs of Python before it reached the database — ``orjson`` into a dict, the clean-row
checks, a :class:`~services.bridge.validation.StoreRecord`, its keyed digest and event members, asyncpg's encoding
of the tuple — on the one core the upload's checks run on, while PostgreSQL needed the machine's other core and
more. Here a block of lines (one read of the upload, a few thousand) is parsed by Apache Arrow's JSON reader into
typed columns and checked with vectorised kernels; only the keyed digest still takes a Python step per row.

The lane takes only what :meth:`FastCheck.record <services.bridge.validation.FastCheck.record>` would accept
untouched, and stages exactly what the row path would (``tests/bridge/test_bulk_rows.py`` holds the two lanes to
the same staged rows over generated edge cases). Any line it is not sure of is *deferred*: the caller reads it the
row path's way, which says what is wrong. Deferred are lines with a backslash or a control character (a JSON escape:
what Arrow decodes, orjson must judge), values that would be trimmed or upper-cased, an ID number (a person's store:
encrypted one by one), and anything the clean-row shortcut would not accept. A whole block is left to the row path
when Arrow cannot read it (a value of another type, an unknown field, a line that is not one object), when a line
is blank, or when so many of its lines are deferred that the columns do not pay.
"""

from __future__ import annotations

import io
import itertools
import struct
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from contracts import uscc as uscc_codes
from contracts.events.bridge import RegionCheck, UsccCheck
from services.bridge.store import STAGED_COLUMNS
from services.bridge.validation import COLUMNS, USCC_SHAPE, FastCheck, keyed_digest_bytes

_TEXT: Final = ("store_id", "merchant_name", "address", "region", "shop_name", "shop_url", "category", "uscc", "id_number", "contact")
_FLAGS: Final = ("exemption_declared", "above_threshold")
_SCHEMA: Final = pa.schema([(name, pa.bool_() if name in _FLAGS else pa.string()) for name in COLUMNS])
_PARSE: Final = pa_json.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="error", newlines_in_values=False)
#: Required text and its limit (characters, after trimming, as FastCheck counts them); region's own check decides.
_LIMITS: Final = (("store_id", 200), ("merchant_name", 200), ("address", 500), ("region", 1 << 30), ("shop_name", 200),
                  ("shop_url", 1000), ("category", 200))
_CONTACT_LIMIT: Final = 100
_ZERO: Final = pa.scalar(0, pa.int32())
#: Every character Python's ``str.strip()`` and ``re``'s ``\s`` treat as white space (``str.isspace``).
SPACES: Final = tuple(chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace())
#: validation._URL (``https?://[^\s]+``, case-insensitive) in RE2, whose ``\s`` is ASCII only: the class spelled out.
_URL_RE2: Final = "(?i)^https?://[^" + "".join(f"\\x{{{ord(ch):04x}}}" for ch in SPACES) + "]+$"
_USCC_RE2: Final = f"^{USCC_SHAPE.pattern}$"
#: Bytes that make a line the row path's: a JSON escape (``\``) or a control character, tab included.
_SUSPECT: Final = bytes([*range(0x20), ord("\\")])
#: The share of a block's lines the row path may take before the whole block goes that way: the columns' work is
#: done for every line of the block, wasted on the deferred ones.
MAX_DEFERRED_SHARE: Final = 0.5

_USCC_VALUES: Final = np.zeros(256, dtype=np.int64)
for _value, _char in enumerate(uscc_codes.ALPHABET):
    _USCC_VALUES[ord(_char)] = _value
_USCC_WEIGHTS: Final = np.array(uscc_codes.WEIGHTS, dtype=np.int64)
_USCC_ALPHABET: Final = np.frombuffer(uscc_codes.ALPHABET.encode(), dtype=np.uint8)


@dataclass(slots=True)
class BulkRows:
    """Accepted rows of one block, in file order, with nothing between them that the row path must read first.

    ``rows`` holds the columns the staging writes (:func:`staged_tuples`, :func:`copy_binary`): the store's text and
    flags, ``line``, ``region_check``, ``digest`` and ``event_fields``."""

    rows: Any  # pyarrow.Table
    store_ids: list[str]
    lines: list[int]

    def next_line(self) -> int:
        return self.lines[-1] + 1

    def split(self, count: int) -> tuple[BulkRows, BulkRows]:
        """The first ``count`` rows and the rest: a batch takes no more rows than it has room for."""
        return (BulkRows(self.rows.slice(0, count), self.store_ids[:count], self.lines[:count]),
                BulkRows(self.rows.slice(count), self.store_ids[count:], self.lines[count:]))


@dataclass(slots=True)
class Block:
    """What :meth:`BulkCheck.block` made of a block: the runs of accepted rows and the lines left to the row path, as
    indices into the block's lines."""

    runs: list[tuple[int, BulkRows]]
    deferred: list[int]

    def in_order(self, lines: Sequence[bytes]) -> Iterator[BulkRows | tuple[int, bytes]]:
        """Runs and deferred lines (index, bytes) interleaved in file order: a store id's first line must be met first."""
        runs = iter(self.runs)
        run = next(runs, None)
        for index in self.deferred:
            while run is not None and run[0] < index:
                yield run[1]
                run = next(runs, None)
            yield index, lines[index]
        while run is not None:
            yield run[1]
            run = next(runs, None)


class BulkCheck:
    """The bulk lane for one upload: its day's region verdicts (shared with the row path's :class:`FastCheck`) and
    the bridge's MAC key for the content digest."""

    def __init__(self, fast: FastCheck, mac_key: bytes, *, max_deferred_share: float = MAX_DEFERRED_SHARE) -> None:
        self.fast = fast
        self.mac_key = mac_key
        self.max_deferred_share = max_deferred_share

    def block(self, lines: Sequence[bytes], first_number: int) -> Block | None:
        """Check ``lines`` (numbered from ``first_number``); None where the whole block is the row path's."""
        data = b"\n".join(lines)
        # Arrow skips blank lines, and rows would no longer match lines. Lines that all open an object are not blank.
        if not lines or (data.count(b"\n{") + data.startswith(b"{") != len(lines) and any(not line.strip() for line in lines)):
            return None
        try:
            table = pa_json.read_json(io.BytesIO(data), read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1),
                                      parse_options=_PARSE)
        except (pa.ArrowException, UnicodeDecodeError):
            return None  # a value of another type, an unknown field, not JSON, not UTF-8: the row path says which
        if table.num_rows != len(lines):
            return None  # a line holding two objects
        regions = {code: self.fast.region_verdict(code) for code in pc.unique(table.column("region")).drop_null().to_pylist()}
        ok = self._accepted(table, data, lines, regions)
        accepted = np.flatnonzero(ok)
        deferred = np.flatnonzero(~ok).tolist()
        if len(deferred) > self.max_deferred_share * len(lines):
            return None
        rows = self._staged_columns(table.filter(pa.array(ok)), accepted + first_number, regions)
        store_ids: list[str] = rows.column("store_id").to_pylist()
        numbers: list[int] = rows.column("line").to_pylist()
        runs: list[tuple[int, BulkRows]] = []
        start = 0
        # Cut the accepted rows where a deferred line falls between two of them.
        ends = [*np.flatnonzero(np.diff(accepted) != 1).tolist(), len(accepted) - 1] if len(accepted) else []
        for end in ends:
            runs.append((int(accepted[start]), BulkRows(rows.slice(start, end + 1 - start), store_ids[start:end + 1],
                                                        numbers[start:end + 1])))
            start = end + 1
        return Block(runs, deferred)

    def _accepted(self, table: Any, data: bytes, lines: Sequence[bytes], regions: dict[str, RegionCheck | None]) -> Any:
        """The rows FastCheck would accept as they are (nothing to trim, no ID number), as a numpy bool array;
        ``regions`` holds the verdict of every region code in the block."""
        ok = pc.is_null(table.column("id_number"))
        for name, limit in _LIMITS:
            ok = pc.and_kleene(ok, _plain_text(table.column(name), limit))
        contact = table.column("contact")
        ok = pc.and_kleene(ok, pc.or_kleene(pc.is_null(contact), _plain_text(contact, _CONTACT_LIMIT)))
        ok = pc.and_kleene(ok, pc.match_substring_regex(table.column("uscc"), _USCC_RE2))
        ok = pc.and_kleene(ok, pc.match_substring_regex(table.column("shop_url"), _URL_RE2))
        known = [code for code, verdict in regions.items() if verdict is not None]
        ok = pc.and_kleene(ok, pc.is_in(table.column("region"), value_set=pa.array(known, pa.string())))
        mask = pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
        codes = table.column("uscc").filter(pa.array(mask)).combine_chunks()
        mask[mask] = _uscc_checks(codes)
        if len(data.translate(None, _SUSPECT)) != len(data) - len(lines) + 1:  # the newlines between lines aside
            mask &= np.array([line.translate(None, _SUSPECT) == line for line in lines])
        return mask

    def _staged_columns(self, table: Any, numbers: Any, regions: dict[str, RegionCheck | None]) -> Any:
        region = table.column("region")
        unverified = [code for code, verdict in regions.items() if verdict is RegionCheck.UNVERIFIED]
        region_check = pc.if_else(pc.is_in(region, value_set=pa.array(unverified, pa.string())), RegionCheck.UNVERIFIED.value,
                                  RegionCheck.VALID.value)
        exemption = pc.fill_null(table.column("exemption_declared"), False)
        above = pc.fill_null(table.column("above_threshold"), False)
        text = {name: table.column(name) for name in _TEXT}
        digests = pa.array(self._digests(_canonical_content(text, exemption, above)), pa.string())
        fields = _event_fields(text, exemption, above, region_check)
        return pa.table({
            **{name: text[name] for name in _TEXT if name != "id_number"}, "exemption_declared": exemption, "above_threshold": above,
            "line": pa.array(numbers, pa.int64()), "region_check": region_check, "digest": digests, "event_fields": fields,
        })

    def _digests(self, content: Any) -> list[str]:
        content = content.combine_chunks() if isinstance(content, pa.ChunkedArray) else content
        data = content.buffers()[2]
        data = data.to_pybytes() if data is not None else b""
        offsets = _offsets(content).tolist()
        key = self.mac_key
        return [keyed_digest_bytes(key, data[start:end]) for start, end in itertools.pairwise(offsets)]


def _plain_text(column: Any, limit: int) -> Any:
    """Non-empty text of at most ``limit`` characters that trimming would leave as it is. Arrow's white space is
    Python's (``str.isspace``, checked character by character in tests/bridge/test_bulk_rows.py)."""
    length = pc.utf8_length(column)
    untrimmed = pc.equal(pc.binary_length(pc.utf8_trim_whitespace(column)), pc.binary_length(column))
    # Typed bounds: a plain int is a scalar Arrow must first find a common type for, on every call.
    return pc.and_kleene(pc.and_kleene(pc.greater(length, _ZERO), pc.less_equal(length, pa.scalar(limit, pa.int32()))), untrimmed)


def _uscc_checks(codes: Any) -> Any:
    """The check character of codes already of the USCC shape (18 ASCII characters each), all at once."""
    if len(codes) == 0:
        return np.zeros(0, dtype=bool)
    offsets = _offsets(codes)
    chars = np.frombuffer(codes.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, 18)
    total = (_USCC_VALUES[chars[:, :17]] * _USCC_WEIGHTS).sum(axis=1) % 31
    return _USCC_ALPHABET[(31 - total) % 31] == chars[:, 17]


def _offsets(strings: Any) -> Any:
    """Where each value of a string array starts in its data buffer, and where the last ends (numpy, no copy)."""
    return np.frombuffer(strings.buffers()[1], dtype=np.int32)[strings.offset:strings.offset + len(strings) + 1]


def _quoted(column: Any) -> Any:
    # Safe only because no accepted line has a backslash: its text holds no quote, backslash or control character.
    return pc.binary_join_element_wise('"', column, '"', "")


def _boolean(column: Any) -> Any:
    return pc.if_else(column, "true", "false")


def _canonical_content(text: dict[str, Any], exemption: Any, above: Any) -> Any:
    """``orjson.dumps(record.content(), option=OPT_SORT_KEYS)`` for every row (no ID number here). The quotes of the
    text values are in the pieces between them (see :func:`_quoted`): one join for the whole object."""
    return pc.binary_join_element_wise(
        '{"above_threshold":', _boolean(above), ',"address":"', text["address"], '","category":"', text["category"],
        '","contact":', pc.fill_null(_quoted(text["contact"]), "null"), ',"exemption_declared":', _boolean(exemption),
        ',"id_number":null,"merchant_name":"', text["merchant_name"], '","region":"', text["region"], '","shop_name":"', text["shop_name"],
        '","shop_url":"', text["shop_url"], '","uscc":"', text["uscc"], '"}', "")


def _event_fields(text: dict[str, Any], exemption: Any, above: Any, region_check: Any) -> Any:
    """:func:`services.bridge.store_values.event_fields` for every row (each has a USCC that passed its check)."""
    return pc.binary_join_element_wise(
        '"store_id":"', text["store_id"], '","merchant_name":"', text["merchant_name"], '","exemption_declared":', _boolean(exemption),
        ',"region":"', text["region"], '","region_check":"', region_check, '","shop_name":"', text["shop_name"],
        '","shop_url":"', text["shop_url"], '","category":"', text["category"], '","above_threshold":', _boolean(above),
        ',"uscc":"', text["uscc"], f'","uscc_check":"{UsccCheck.VALID.value}"', "")


def _concat(parts: Sequence[BulkRows]) -> Any:
    return pa.concat_tables([part.rows for part in parts]) if len(parts) != 1 else parts[0].rows


def kept(parts: Sequence[BulkRows], records: dict[str, tuple[int, Any]]) -> Any:
    """The rows of ``parts`` still staged: a row whose store id a batch gave up (listed in an earlier batch) or that
    an earlier line of the file took is no longer ``records``'s entry for its id."""
    if not parts:
        return None
    keep = [records.get(store_id, (0,))[0] == line for part in parts for store_id, line in zip(part.store_ids, part.lines, strict=True)]
    table = _concat(parts)
    return table if all(keep) else table.filter(pa.array(keep))


def staged_tuples(table: Any, submission_id: str) -> list[tuple[Any, ...]]:
    """The rows in :data:`services.bridge.store.STAGED_COLUMNS` order, as the row path's ``_staged_row`` makes them."""
    n = table.num_rows
    column = table.column
    return list(zip([submission_id] * n, column("store_id").to_pylist(), column("line").to_pylist(), column("merchant_name").to_pylist(),
                    column("uscc").to_pylist(), [UsccCheck.VALID.value] * n, [None] * n, [None] * n,
                    column("exemption_declared").to_pylist(), column("address").to_pylist(), column("region").to_pylist(),
                    column("region_check").to_pylist(), column("shop_name").to_pylist(), column("shop_url").to_pylist(),
                    column("category").to_pylist(), column("contact").to_pylist(), column("above_threshold").to_pylist(),
                    column("digest").to_pylist(), column("event_fields").to_pylist(), strict=True))


#: A binary ``COPY`` stream's signature, flags and header extension length, and its end (PostgreSQL's COPY docs).
COPY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER: Final = struct.pack(">h", -1)
_NULL_FIELD: Final = struct.pack(">i", -1)


def copy_binary(table: Any, submission_id: str) -> list[Any]:
    """The rows as PostgreSQL ``COPY … FROM STDIN (FORMAT binary)``, columns in STAGED_COLUMNS order, put together a
    column at a time: each field its length (4 bytes, big-endian; -1 for an absent value) and its bytes. The stream
    comes in three pieces (buffers to send one after the other), the rows' one not copied out of Arrow's buffer: a
    batch's ~13 MB joined with the header and trailer into one bytes object was two copies (~0.7 µs a row of the
    upload's Python). The columns are combined first: ``table`` is made of the runs of the blocks it took, as short
    as the lines between two deferred ones (a 20,000-row batch of the bench's file is ~400), and some 40 Arrow
    calls a run took the upload's Python from 14 to 26.5 µs a row (9,000,000 stores).

    The text form cost the staging's backend ~1.1 µs more a row (5.5 against 4.4 µs for the same 100,000 staged
    rows): it scans every line for delimiters and escapes, and parses each field from text."""
    if table.num_rows == 0:
        return []
    return [COPY_HEADER, _binary_tuples(table.combine_chunks().to_batches()[0], submission_id), COPY_TRAILER]


def _binary_tuples(batch: Any, submission_id: str) -> memoryview:
    column = batch.column
    n = batch.num_rows
    pieces = [
        _constant(struct.pack(">h", len(STAGED_COLUMNS)) + _field(submission_id.encode())), *_sized(column("store_id")),
        _constant(struct.pack(">i", 4)), _fixed_width(column("line").to_numpy().astype(">i4").tobytes(), 4, n),
        *_sized(column("merchant_name")), *_sized(column("uscc")),
        # uscc_check, then id_number_enc and id_number_mac (no ID number in the lane), then exemption_declared's length
        _constant(_field(UsccCheck.VALID.value.encode()) + _NULL_FIELD + _NULL_FIELD + struct.pack(">i", 1)),
        _flags(column("exemption_declared")),
        *_sized(column("address")), *_sized(column("region")), *_sized(column("region_check")), *_sized(column("shop_name")),
        *_sized(column("shop_url")), *_sized(column("category")), *_sized(column("contact")),
        _constant(struct.pack(">i", 1)), _flags(column("above_threshold")),
        *_sized(column("digest")), *_sized(column("event_fields")),
    ]
    joined = pc.binary_join_element_wise(*pieces, _constant(b""))
    offsets = _offsets(joined)
    return memoryview(joined.buffers()[2])[offsets[0]:offsets[-1]]


def _field(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


def _constant(value: bytes) -> Any:
    return pa.scalar(value, pa.binary())


def _fixed_width(data: bytes, width: int, n: int) -> Any:
    """``n`` binary values of ``width`` bytes each, laid end to end in ``data``."""
    offsets = np.arange(0, width * n + 1, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _sized(strings: Any) -> tuple[Any, Any]:
    """A text column as binary COPY fields: each value's length, then its UTF-8 bytes; an absent one has length -1."""
    lengths = np.diff(_offsets(strings)).astype(">i4")
    if strings.null_count:
        lengths[pc.is_null(strings).to_numpy(zero_copy_only=False)] = -1
        strings = pc.fill_null(strings, "")
    return _fixed_width(lengths.tobytes(), 4, len(strings)), pc.cast(strings, pa.binary())


def _flags(column: Any) -> Any:
    return _fixed_width(column.to_numpy(zero_copy_only=False).astype(np.uint8).tobytes(), 1, len(column))
