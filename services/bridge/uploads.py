"""Streamed NDJSON and CSV uploads turned into numbered rows, without holding the file in memory.

The first line decides at once whether the body is the declared format (a spreadsheet sent as CSV, a
JSON array sent as NDJSON, a zip): :class:`WrongFormat` is raised before anything is stored. After that a
bad line is only that line's problem: it comes out as a :class:`LineError` with its number.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import orjson

from services.bridge.bulk_rows import BulkCheck, BulkRows
from services.bridge.validation import COLUMNS, REQUIRED

#: One line (one store) is a few hundred bytes; a "line" larger than this is not a row of ours.
MAX_LINE_BYTES: Final = 1 << 20
#: What the line reader gives for a line over MAX_LINE_BYTES (a NUL cannot start a line of text).
_TOO_LONG: Final = b"\x00too-long"
#: CSV rows per list of :meth:`RowStream.batches`.
_CSV_BATCH_ROWS: Final = 1000
#: Fewer lines than this in a read take the row path even with a bulk lane: the columns' fixed cost would not pay.
_BULK_MIN_LINES: Final = 64
_BINARY_MAGIC: Final = (b"PK\x03\x04", b"\x1f\x8b", b"%PDF", b"\xd0\xcf\x11\xe0")


class Format(StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"


MEDIA_TYPES: Final[dict[str, Format]] = {
    "application/x-ndjson": Format.NDJSON,
    "application/ndjson": Format.NDJSON,
    "application/jsonl": Format.NDJSON,
    "application/x-jsonlines": Format.NDJSON,
    "text/csv": Format.CSV,
    "application/csv": Format.CSV,
}
#: Media types that say nothing about the content: the declared format and the first line decide.
NEUTRAL_MEDIA_TYPES: Final = frozenset({"", "application/octet-stream", "text/plain"})


class WrongFormat(Exception):
    """The body is not the declared format: 415 (not even text) or 422 (text, but not this format)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


# Not frozen (as StoreRecord): a frozen dataclass's fields are set through object.__setattr__, and an upload makes
# one of these per line.
@dataclass(slots=True)
class LineError:
    line: int
    code: str
    message: str

    def next_line(self) -> int:
        return self.line + 1


@dataclass(slots=True)
class Row:
    line: int
    values: Mapping[str, object]
    #: The row's last line where it spans several (a CSV field with a newline); 0 for a row on one line.
    last_line: int = 0

    def next_line(self) -> int:
        """The line after this row: where an upload cut after it goes on."""
        return max(self.line, self.last_line) + 1


def format_for(declared: str | None, content_type: str | None) -> Format:
    media = (content_type or "").split(";")[0].strip().lower()
    implied = MEDIA_TYPES.get(media)
    if media not in NEUTRAL_MEDIA_TYPES and implied is None:
        raise WrongFormat(415, f"content-type {media!r} is neither NDJSON (application/x-ndjson) nor CSV (text/csv)")
    if declared is None:
        if implied is None:
            raise WrongFormat(415, "say which format the file is: ?format=ndjson or ?format=csv")
        return implied
    try:
        chosen = Format(declared)
    except ValueError as exc:
        raise WrongFormat(415, f"format {declared!r} is not supported; use ndjson or csv") from exc
    if implied is not None and implied is not chosen:
        raise WrongFormat(415, f"format={chosen.value} but content-type says {media}")
    return chosen


class LineReader:
    """Numbered lines from a byte stream, with a running SHA-256 and byte count of everything read."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._done = False
        self.number = 0
        self.bytes_read = 0
        self.sha256 = hashlib.sha256()

    async def _fill(self) -> bool:
        async for chunk in self._chunks:
            if chunk:
                self.bytes_read += len(chunk)
                self.sha256.update(chunk)
                self._buffer += chunk
                return True
        self._done = True
        return False

    async def next_lines(self) -> list[bytes] | None:
        """Every complete line the buffer holds — at least one, reading on until there is one — as :meth:`next_line`
        would give them one by one (same cuts, same numbering: :attr:`number` is the last one's); None at the end.

        A 9-million-row upload made one coroutine call and one buffer cut per line; here one ``split`` serves a
        whole chunk of lines."""
        end = self._buffer.rfind(b"\n")
        if end < 0:
            line = await self.next_line()
            return None if line is None else [line]
        text = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        lines = text.split(b"\n")
        self.number += len(lines)
        if text.endswith(b"\r") or b"\r\n" in text:
            return [line[:-1] if line.endswith(b"\r") else line for line in lines]
        return lines

    async def next_line(self) -> bytes | None:
        """The next line without its newline, ``b"…"`` cut short when it exceeds the limit; None at the end."""
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                self.number += 1
                return line[:-1] if line.endswith(b"\r") else line
            if len(self._buffer) > MAX_LINE_BYTES:
                # Keep memory flat: drop the oversized line's bytes up to its end, report it as too long.
                while (end := self._buffer.find(b"\n")) < 0:
                    self._buffer.clear()
                    if not await self._fill():
                        break
                if end >= 0:
                    del self._buffer[: end + 1]
                self.number += 1
                return _TOO_LONG
            start = len(self._buffer)
            if self._done or not await self._fill():
                if self._buffer:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    self.number += 1
                    return line
                return None


def _header_names(text: str) -> list[str]:
    return [name.strip().lower() for name in next(csv.reader([text]))]


def _line_text(number: int, line: bytes) -> str | LineError | None:
    """A line's text, or why it has none (too long, not UTF-8); None for a blank line, which is skipped."""
    if line == _TOO_LONG:
        return LineError(number, "line-too-long", f"line is longer than {MAX_LINE_BYTES} bytes")
    if not line.strip():
        return None
    try:
        return _decode(line, number)
    except UnicodeDecodeError:
        return LineError(number, "not-utf8", "line is not UTF-8 text")


def _decode(line: bytes, number: int) -> str:
    text = line.decode("utf-8")
    return text.removeprefix("\ufeff") if number == 1 else text


class RowStream:
    """``async for item in stream``: each :class:`Row` or :class:`LineError`, in file order."""

    def __init__(self, reader: LineReader, fmt: Format) -> None:
        self.reader = reader
        self.format = fmt
        self._header: list[str] | None = None
        #: A CSV file's header line as sent: a resumed part does not repeat it (:meth:`resume`).
        self.header_text: str | None = None
        self._first: Row | LineError | None = None

    @classmethod
    async def open(cls, chunks: AsyncIterator[bytes], fmt: Format) -> RowStream:
        """Read up to the first row and check the format; raises :class:`WrongFormat`."""
        stream = cls(LineReader(chunks), fmt)
        await stream._sniff()
        return stream

    @classmethod
    async def resume(cls, chunks: AsyncIterator[bytes], fmt: Format, *, from_line: int, header_text: str | None) -> RowStream:
        """The rest of a file whose lines before ``from_line`` arrived in an earlier upload: numbered on from there, a
        CSV file's rows read with the header the first part gave. The first row must be one of the file's (a JSON
        object; a CSV row with the header's cells), or :class:`WrongFormat` is raised before anything is stored: a
        part that is not the file's rest would close every store it does not list."""
        stream = cls(LineReader(chunks), fmt)
        stream.reader.number = from_line - 1
        if fmt is Format.CSV:
            if header_text is None:
                raise WrongFormat(422, "the first part of this CSV file left no header to read the rest with; resend the whole file")
            stream.header_text = header_text
            stream._header = _header_names(header_text)
        await stream._sniff(resumed=True)
        return stream

    async def _first_nonblank(self) -> tuple[int, bytes] | None:
        while (line := await self.reader.next_line()) is not None:
            if line.strip():
                return self.reader.number, line
        return None

    async def _sniff(self, *, resumed: bool = False) -> None:
        first = await self._first_nonblank()
        if first is None:
            raise WrongFormat(422, "the rest of the file is empty" if resumed else "the file is empty")
        number, line = first
        if line.startswith(_BINARY_MAGIC) or b"\x00" in line:
            raise WrongFormat(415, f"the file is binary (a zip, gzip, PDF or spreadsheet?), not {self.format.value}")
        try:
            text = _decode(line, number)
        except UnicodeDecodeError as exc:
            raise WrongFormat(415, f"line {number} is not UTF-8 text ({exc.reason}); send {self.format.value} in UTF-8") from exc
        if self.format is Format.NDJSON:
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise WrongFormat(422, f"line {number} is not JSON: this is not NDJSON (one JSON object per line)") from exc
            if not isinstance(value, dict):
                raise WrongFormat(422, f"line {number} is a JSON {type(value).__name__}, not an object: NDJSON needs one object per line")
            self._first = Row(number, value)
            return
        if resumed:
            row = await self._csv_row(number, text)
            if isinstance(row, LineError) and row.code == "csv-columns":
                raise WrongFormat(422, f"line {number} is not a row of this CSV file ({row.message}): send the file's rest from that line")
            self._first = row
            return
        self.header_text = text
        header = _header_names(text)
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise WrongFormat(422, f"line {number} is not a CSV header with the required columns; missing: {', '.join(missing)}")
        self._header = header

    def unknown_columns(self) -> list[str]:
        return [name for name in self._header or () if name not in COLUMNS]

    async def batches(self, bulk: BulkCheck | None = None) -> AsyncIterator[list[Row | LineError | BulkRows]]:
        """The items of :meth:`__aiter__`, in the same order, a list at a time: for NDJSON every line a read brought in
        (hundreds to thousands), so the caller's loop over them is a plain ``for`` — an async generator's step per row was a
        tenth of the upload's Python. CSV keeps its line-by-line path (a quoted field may span lines).

        With ``bulk``, NDJSON lines go through its lane (services/bridge/bulk_rows.py) a read at a time: its
        :class:`BulkRows` come out in file order between the rows of the lines it left to this path."""
        if self.format is not Format.NDJSON:
            csv_items: list[Row | LineError | BulkRows] = []
            async for item in self._one_by_one():
                csv_items.append(item)
                if len(csv_items) >= _CSV_BATCH_ROWS:
                    yield csv_items
                    csv_items = []
            if csv_items:
                yield csv_items
            return
        if self._first is not None:
            yield [self._first]
        reader, loads, json_error = self.reader, orjson.loads, orjson.JSONDecodeError
        while (lines := await reader.next_lines()) is not None:
            number = reader.number - len(lines)
            # In a worker thread: a read's block is tens of ms of checks (Arrow and numpy mostly, which let go of the
            # GIL), during which the event loop must keep feeding the staging's COPY and the other requests. On the
            # loop it starved the COPY between blocks, and both database backends idled (a fifth of the machine).
            block = (await asyncio.to_thread(bulk.block, lines, number + 1) if bulk is not None and len(lines) >= _BULK_MIN_LINES
                     else None)
            if block is not None:
                pieces: list[Row | LineError | BulkRows] = []
                for piece in block.in_order(lines):
                    if isinstance(piece, BulkRows):
                        pieces.append(piece)
                    elif (row := self._careful_json_row(number + 1 + piece[0], piece[1])) is not None:
                        pieces.append(row)
                yield pieces
                continue
            items: list[Row | LineError | BulkRows] = []
            for line in lines:
                number += 1
                try:
                    # orjson reads UTF-8 bytes itself; anything it refuses takes the careful path, which says why.
                    value = loads(line)
                except json_error:
                    value = None
                if type(value) is dict:
                    items.append(Row(number, value))
                elif (careful := self._careful_json_row(number, line)) is not None:
                    items.append(careful)
            yield items

    def _careful_json_row(self, number: int, line: bytes) -> Row | LineError | None:
        """One NDJSON line the way :meth:`_one_by_one` reads it; None for a blank line."""
        text = _line_text(number, line)
        return text if text is None or isinstance(text, LineError) else self._json_row(number, text)

    async def __aiter__(self) -> AsyncIterator[Row | LineError]:
        async for items in self.batches():
            for item in items:
                assert not isinstance(item, BulkRows)  # only a bulk lane makes them
                yield item

    async def _one_by_one(self) -> AsyncIterator[Row | LineError]:
        if self._first is not None:
            yield self._first
        while (line := await self.reader.next_line()) is not None:
            number = self.reader.number
            text = _line_text(number, line)
            if text is None:
                continue
            if isinstance(text, LineError):
                yield text
            elif self.format is Format.NDJSON:
                yield self._json_row(number, text)
            else:
                yield await self._csv_row(number, text)

    @staticmethod
    def _json_row(number: int, text: str) -> Row | LineError:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return LineError(number, "not-json", f"not a JSON object: {exc}")
        if not isinstance(value, dict):
            return LineError(number, "not-an-object", f"a JSON {type(value).__name__}, not an object")
        return Row(number, value)

    async def _csv_row(self, number: int, text: str) -> Row | LineError:
        assert self._header is not None
        # A quoted field may hold a newline: join lines until the quotes balance (the row keeps its first line's number).
        while text.count('"') % 2:
            more = await self.reader.next_line()
            if more is None:
                return LineError(number, "csv-unbalanced-quote", "a quoted field is never closed")
            try:
                text += "\n" + more.decode("utf-8")
            except UnicodeDecodeError:
                return LineError(number, "not-utf8", "row is not UTF-8 text")
        try:
            cells = next(csv.reader([text]))
        except csv.Error as exc:
            return LineError(number, "csv-syntax", str(exc))
        if len(cells) != len(self._header):
            return LineError(number, "csv-columns", f"{len(cells)} cells; the header has {len(self._header)}")
        values = {name: cell for name, cell in zip(self._header, cells, strict=True) if name in COLUMNS}
        return Row(number, values, self.reader.number if self.reader.number != number else 0)
