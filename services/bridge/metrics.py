"""bridge's domain metrics: what an operator watching a long submission or the store batches wants to see.

Every counter is incremented only after the transaction it describes committed, so a batch rolled back (a
superseded upload, a failed apply) is never counted. Labels are closed sets: never a platform, store or region.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

from services.bridge.store_batch_rules import Outcome

SUBMISSION_ROWS = Counter(
    "redshield_bridge_submission_rows_total",
    "Submission rows as the receiver commits them: staged (clean), flagged (staged with a warning), refused (not staged); "
    "the three add up to the rows read",
    ["outcome"],
)
SUBMISSIONS = Counter("redshield_bridge_submissions_total", "Submissions that reached a state", ["state"])
RESUMES = Counter("redshield_bridge_submission_resumes_total",
                  "Interrupted uploads resumed from their resume_line (PATCH /v1/submissions/{id}), whatever they then became")
RECEIVING = Gauge("redshield_bridge_submissions_receiving", "Uploads this process is receiving right now")
APPLY_SECONDS = Histogram(
    "redshield_bridge_apply_seconds",
    "Seconds per step of applying a submission",
    ["step"],
    # A 9-million-row semi-annual file takes minutes per step: the buckets reach half an hour.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800),
)
APPLIED_STORES = Counter("redshield_bridge_applied_stores_total", "Stores a submission's apply registered, updated or closed", ["change"])
STORE_BATCHES = Counter("redshield_bridge_store_batches_total", "Store batches applied (POST /v1/platforms/{id}/stores/batch)")
STORE_BATCH_RECORDS = Counter("redshield_bridge_store_batch_records_total", "Records of applied store batches, by outcome", ["outcome"])

ROW_OUTCOMES = ("staged", "flagged", "refused")
CHANGES = ("registered", "updated", "closed")

# Known label values start at 0, so rate() and increase() see the first event rather than a series appearing.
for _outcome in ROW_OUTCOMES:
    SUBMISSION_ROWS.labels(_outcome)
for _state in ("staged", "applied", "rejected", "interrupted", "failed"):
    SUBMISSIONS.labels(_state)
for _change in CHANGES:
    APPLIED_STORES.labels(_change)
for _record in Outcome:
    STORE_BATCH_RECORDS.labels(_record.value)


def rows_committed(*, staged: int, flagged: int, refused: int) -> None:
    """``staged`` counts every staged row, flagged ones included (as ``rows_staged`` does)."""
    SUBMISSION_ROWS.labels("staged").inc(staged - flagged)
    SUBMISSION_ROWS.labels("flagged").inc(flagged)
    SUBMISSION_ROWS.labels("refused").inc(refused)


def submissions_reached(state: str, count: int = 1) -> None:
    if count:
        SUBMISSIONS.labels(state).inc(count)


def applied(seconds: Mapping[str, float], counts: Mapping[str, int]) -> None:
    for step, spent in seconds.items():
        APPLY_SECONDS.labels(step).observe(spent)
    for change in CHANGES:
        APPLIED_STORES.labels(change).inc(counts[change])


def store_batch_applied(counts: Mapping[str, int]) -> None:
    STORE_BATCHES.inc()
    for outcome in Outcome:
        STORE_BATCH_RECORDS.labels(outcome.value).inc(counts[outcome.value])
