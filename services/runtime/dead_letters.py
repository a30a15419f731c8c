"""Reading dead letters back: what a DLQ record says about itself, and the record as it was before it failed.

:class:`services.runtime.consumer.DeadLetters` writes the original key, value and headers plus ``x-dlq-*`` headers;
an operator reads them (``redshield dlq show``) and, once the cause is fixed, sends them back to the topic they
came from (``redshield dlq replay``). Every consumer applies a record at most once (the inbox, or analytics'
deduplicated tables and ledger), so a record that was in fact applied before it was dead-lettered changes nothing
when it comes back. Pure functions; the Kafka side is in :mod:`services.cli.dlq`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

DLQ_HEADER_PREFIX: Final = "x-dlq-"
#: Reasons that say the record itself is fine and its processing failed (a database down, a bug since fixed): the
#: ones a replay sends back unless told otherwise. Bad envelopes, bad schemas and wrong platforms would only come
#: back to the DLQ.
RETRYABLE_REASONS: Final = frozenset({"processing-failed"})


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    error: str
    consumer: str
    original_topic: str
    original_partition: int | None
    original_offset: int | None
    attempts: int | None
    event_type: str
    event_id: str


def _text(headers: dict[str, bytes], name: str) -> str:
    return headers.get(name, b"").decode("utf-8", errors="replace")


def _number(headers: dict[str, bytes], name: str) -> int | None:
    text = _text(headers, name)
    return int(text) if text.isdigit() else None


def read_dead_letter(headers: Iterable[tuple[str, bytes | None]] | None) -> DeadLetter:
    """The ``x-dlq-*`` headers (and the event's type and id, when the record had them) of one DLQ record."""
    found = {name.lower(): value for name, value in headers or () if value is not None}
    return DeadLetter(
        reason=_text(found, "x-dlq-reason") or "unknown",
        error=_text(found, "x-dlq-error"),
        consumer=_text(found, "x-dlq-consumer"),
        original_topic=_text(found, "x-dlq-original-topic"),
        original_partition=_number(found, "x-dlq-original-partition"),
        original_offset=_number(found, "x-dlq-original-offset"),
        attempts=_number(found, "x-dlq-attempts"),
        event_type=_text(found, "ce_type"),
        event_id=_text(found, "ce_id"),
    )


def original_headers(headers: Iterable[tuple[str, bytes | None]] | None) -> list[tuple[str, bytes]]:
    """The record's headers as they were before it failed: every ``x-dlq-*`` header removed, the rest in order."""
    return [(name, value) for name, value in headers or () if value is not None and not name.lower().startswith(DLQ_HEADER_PREFIX)]


def should_replay(letter: DeadLetter, reasons: frozenset[str] | None) -> bool:
    """Whether a replay asked for ``reasons`` (None: every reason) sends this record back. A record that does not
    say where it came from stays."""
    return bool(letter.original_topic) and (reasons is None or letter.reason in reasons)
