"""Pure rules of a batch of store records (``POST /v1/platforms/{platform_id}/stores/batch``), after the EU DSA
Transparency Database's API: at most 100 records a call, each carrying an idempotency id of its own (``record_id``).

Each record is a submission row with that id added, checked by the same rules (:func:`check_row`, through the
:class:`FastCheck` shortcut) with its index in the batch as its line. Its outcome:

* ``created`` — the store is new, or back after being closed; ``updated`` — its data differs; ``unchanged``;
* ``duplicate`` — a record with this ``record_id`` was applied before (in an earlier batch or earlier in this one):
  answered with that result, nothing applied again;
* ``refused`` — with its findings. A refused record is not remembered: corrected, it may be sent again with its id.

Unlike a whole-list submission, a batch never closes a store it does not list. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from services.bridge.validation import FastCheck, Finding, RowVerdict, Severity, check_row

MAX_RECORDS: Final = 100
#: An idempotency id: 1 to 200 characters, none of them white space.
RECORD_ID: Final = re.compile(r"\S{1,200}")


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


#: The outcomes of a record that was applied: the ones a later record with the same ``record_id`` is answered with.
APPLIED: Final = frozenset({Outcome.CREATED, Outcome.UPDATED, Outcome.UNCHANGED})


class BatchRefused(ValueError):
    """The body is not a batch at all (or too large a one): nothing in it is looked at."""

    def __init__(self, reason: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.field = field


def records_of(body: object) -> list[object]:
    """The records of a body ``{"records": [...]}`` holding 1 to :data:`MAX_RECORDS` of them."""
    if not isinstance(body, dict):
        raise BatchRefused("batch-invalid", 'the body is a JSON object: {"records": [...]}')
    unknown = sorted(set(body) - {"records"})
    if unknown:
        raise BatchRefused("batch-invalid", f"unknown field(s): {', '.join(unknown)}", unknown[0])
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise BatchRefused("batch-invalid", "records must be a list of 1 to 100 store records", "records")
    if len(records) > MAX_RECORDS:
        raise BatchRefused("batch-too-large", f"a batch holds at most {MAX_RECORDS} records; this one has {len(records)}: split it "
                           "(or upload the whole list as a submission)", "records")
    return records


@dataclass(slots=True)
class Checked:
    """One record read: its id, its verdict as a submission row, or the finding that stopped it before that."""

    index: int
    record_id: str | None
    verdict: RowVerdict

    @property
    def flagged(self) -> bool:
        return any(f.severity is Severity.WARNING for f in self.verdict.findings)


def check_record(raw: object, index: int, fast: FastCheck) -> Checked:
    """The record's id and its row checked like a submission row on the batch's day (``fast.on``), line = ``index``."""
    if not isinstance(raw, dict):
        return Checked(index, None, RowVerdict(index, None, [Finding(index, Severity.ERROR, "wrong-type", "a record is a JSON object")]))
    given = raw.get("record_id")
    record_id = given.strip() if isinstance(given, str) else None
    row = {name: value for name, value in raw.items() if name != "record_id"}
    if not record_id:
        finding = Finding(index, Severity.ERROR, "record-id-missing", "every record carries its own record_id (its idempotency id)",
                          "record_id", _store_id(row))
        return Checked(index, None, RowVerdict(index, None, [finding], _store_id(row)))
    if not RECORD_ID.fullmatch(record_id):
        finding = Finding(index, Severity.ERROR, "record-id-format", "record_id is 1 to 200 characters without white space", "record_id",
                          _store_id(row))
        return Checked(index, None, RowVerdict(index, None, [finding], _store_id(row)))
    record = fast.record(row)
    verdict = RowVerdict(index, record, [], record.store_id) if record is not None else check_row(row, line=index, on=fast.on)
    return Checked(index, record_id, verdict)


def _store_id(row: Mapping[str, Any]) -> str | None:
    value = row.get("store_id")
    if not isinstance(value, str):
        return None
    return value.strip() or None


def outcome_for(status: str | None, digest: str | None, new_digest: str) -> Outcome:
    """A valid record against the platform's store of that id (its status and content digest; None: no such store)."""
    if status is None or status == "closed":
        return Outcome.CREATED
    return Outcome.UNCHANGED if digest == new_digest else Outcome.UPDATED


#: A store's flags: a database may hand them back as 0/1.
_FLAGS: Final = frozenset({"exemption_declared", "above_threshold"})


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """Names (in ``names`` order) whose value differs, flags compared as booleans."""
    def differs(name: str) -> bool:
        old, new = before.get(name), after.get(name)
        return bool(old) != bool(new) if name in _FLAGS else old != new

    return [name for name in names if differs(name)]


def finding_view(finding: Finding) -> dict[str, Any]:
    return {"line": finding.line, "severity": finding.severity.value, "code": finding.code, "field": finding.field,
            "message": finding.message}
