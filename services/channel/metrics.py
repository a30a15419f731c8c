"""channel's domain metrics: complaints coming in by intake, deadlines platforms miss, and their answers.

Counted only after the transaction that recorded them committed. Labels are closed sets (intake channel, item
kind, deadline kind, answer outcome): never a platform, complaint or region.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge

from contracts.codes import FilingKind, IntakeChannel
from contracts.events.channel import AnswerOutcome, DeadlineKind
from services.channel.intake import Filed

RECEIVED = Counter("redshield_channel_complaints_received_total", "Items (complaints and reports) created by intake; a mixed "
                   "filing makes one of each", ["intake", "kind"])
DUPLICATE_FILINGS = Counter("redshield_channel_duplicate_filings_total", "Filings answered with an item that already existed: the "
                            "same filing again, or a repeat report joining the reporter's open one", ["intake"])
DEADLINES_MISSED = Counter("redshield_channel_deadlines_missed_total", "Deadlines the scheduler recorded as missed", ["deadline"])
OPEN = Gauge("redshield_channel_open_complaints", "Items not yet final, by state, as the deadline scheduler last counted them "
             "(every replica counts the same database: take max, not sum)", ["state"])
PLATFORM_RESPONSES = Counter("redshield_channel_platform_responses_total", "Platforms' first-handling answers applied", ["outcome"])

# Known label values start at 0, so rate() and increase() see the first event rather than a series appearing.
for _intake in IntakeChannel:
    DUPLICATE_FILINGS.labels(_intake.value)
    for _kind in (FilingKind.COMPLAINT, FilingKind.REPORT):
        RECEIVED.labels(_intake.value, _kind.value)
for _deadline in DeadlineKind:
    DEADLINES_MISSED.labels(_deadline.value)
for _outcome in AnswerOutcome:
    PLATFORM_RESPONSES.labels(_outcome.value)


def filed(intake: IntakeChannel, results: Iterable[Filed]) -> None:
    for result in results:
        if result.duplicate:
            DUPLICATE_FILINGS.labels(intake.value).inc()
            continue
        RECEIVED.labels(intake.value, result.kind).inc()
        if result.linked_complaint_id:
            RECEIVED.labels(intake.value, FilingKind.REPORT.value).inc()


def open_items(counts: Mapping[str, int], states: Iterable[str]) -> None:
    for state in states:
        OPEN.labels(state).set(counts.get(state, 0))


def deadline_missed(kind: DeadlineKind) -> None:
    DEADLINES_MISSED.labels(kind.value).inc()


def platform_responded(outcome: AnswerOutcome) -> None:
    PLATFORM_RESPONSES.labels(outcome.value).inc()
