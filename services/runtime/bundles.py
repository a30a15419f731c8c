"""Outbox bundles: many events of one topic in one outbox row, for writers that commit them by the thousand.

A semi-annual submission commits one event per store, millions in one transaction. As one outbox row each, every
event was a heap tuple and three index entries written (and WAL-logged) at the apply, then updated (``sent_at``)
and later deleted by the relay, row by row. A bundle row carries up to tens of thousands of them in its ``value``,
so the table, its indexes and the WAL see one row instead (docs/performance.md, runtime and bridge "Session 13").

A bundle row has ``bundle`` = the number of events it carries (a plain row, one event, has NULL), ``key`` NULL and
an ``event_id`` of its own (unique like every row's; each event's id is in its headers). Its ``headers`` are the
headers every one of its events carries (the same JSON array of [name, value] strings as a plain row's; ``[]`` for
none): an event is published with those first, then its own line's. Its ``value`` is UTF-8 text, one line
(``\\n``) per event, three fields a line separated by a tab:

    key as a JSON string (or null) <TAB> its own headers as a JSON array of [name, value] strings <TAB> the value as text

so a writer building it in SQL needs only its JSON quoting (:meth:`services.bridge.apply._EventSql.insert`). A
store event's line once repeated all of its CloudEvents headers (~450 bytes of ~950); written by the database a
piece at a time, each piece was work a row, and each byte was aggregated, compressed and stored. Only the
headers that differ from event to event (its id, subject, region) are on the line now. The
value must hold no newline byte: the events bundled are JSON, and JSON text writers escape newlines in strings.
The relay publishes a bundle's events in its order, each exactly as a plain row with those key, headers and value
would have been published; a bundle is marked sent as one row, after all of its events are acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import orjson

#: The outgoing form of one event: (key, headers as (name, value bytes), value).
Record = tuple[bytes | None, list[tuple[str, bytes]], bytes]


class BadBundle(ValueError):
    """A bundle row whose value is not in the bundle format (or holds another number of events than it says)."""


def bundle_value(events: Iterable[tuple[str | None, Sequence[tuple[str, str]], bytes]]) -> bytes:
    """A bundle's value from (key, headers, value) triples: what the SQL writers produce, for Python writers and tests."""
    lines = []
    for key, headers, value in events:
        if b"\n" in value:
            raise BadBundle("a bundled value cannot hold a newline byte")
        lines.append(orjson.dumps(key) + b"\t" + orjson.dumps([list(pair) for pair in headers]) + b"\t" + value)
    return b"\n".join(lines)


def bundle_records(value: bytes, expected: int, shared: Sequence[tuple[str, bytes]] = ()) -> Iterator[Record]:
    """The events of a bundle row, in order, each with the ``shared`` headers (the row's own) before its line's;
    :class:`BadBundle` if the value is not ``expected`` well-formed lines (checked before the first event is given,
    so a bad bundle publishes nothing)."""
    records: list[Record] = []
    common = list(shared)
    for number, line in enumerate(value.split(b"\n"), start=1):
        fields = line.split(b"\t", 2)
        if len(fields) != 3:
            raise BadBundle(f"line {number} of the bundle has {len(fields)} tab-separated fields, not 3")
        try:
            key = orjson.loads(fields[0])
            headers = orjson.loads(fields[1])
        except orjson.JSONDecodeError as exc:
            raise BadBundle(f"line {number} of the bundle: {exc}") from exc
        if key is not None and not isinstance(key, str):
            raise BadBundle(f"line {number} of the bundle: the key is not a JSON string")
        try:
            pairs = [(name, text.encode()) for name, text in headers]
        except (TypeError, ValueError, AttributeError) as exc:
            raise BadBundle(f"line {number} of the bundle: the headers are not [name, value] strings") from exc
        records.append((None if key is None else key.encode(), common + pairs, fields[2]))
    if len(records) != expected:
        raise BadBundle(f"the bundle holds {len(records)} events; its row says {expected}")
    return iter(records)


def row_records(key: bytes | None, headers: str | bytes, value: bytes, bundle: int | None) -> Iterator[Record]:
    """The events of an outbox row as they are published: a plain row's one (``headers`` its stored JSON text), or a
    bundle's (:func:`bundle_records`, ``headers`` the ones its events share)."""
    pairs = [(name, text.encode()) for name, text in orjson.loads(headers)]
    if bundle is not None:
        return bundle_records(value, bundle, pairs)
    return iter([(key, pairs, value)])
