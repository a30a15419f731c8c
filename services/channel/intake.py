"""The intake use case: filings (a platform's over HTTP or its feed, or an officer's from the bureau's own
channels) become items, each with its received event and receipt code, and go straight on to their first step
(first handling, the bureau's track, or verification). A mixed filing becomes two linked items; a repeat report
joins the open one; a consumer's pattern of filings raises flags for review."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from contracts.codes import FilingKind, IntakeChannel
from contracts.events.channel import ComplaintFiling, ComplaintFlagged, ComplaintReceived, ComplaintState, FiledKind
from contracts.ids import new_id
from services.channel import domain, receipts, store
from services.channel.domain import INTAKE, ClaimantSigns, Complaint, OpenReport, Step
from services.channel.handling import Handling
from services.channel.rules import CLAIMANT_PATTERNS, ClaimantPatterns
from services.runtime.keys import FieldCipher
from services.runtime.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Filed:
    platform_complaint_id: str
    complaint_id: str
    duplicate: bool
    kind: str
    receipt_code: str
    #: The report part of a mixed filing (``complaint_id`` is its complaint part).
    linked_complaint_id: str | None = None
    linked_receipt_code: str | None = None
    #: A repeat report answered with the open one: "same_facts" (not handled again) or "new_facts" (merged).
    repeat: str | None = None

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"complaint_id": self.complaint_id, "duplicate": self.duplicate, "kind": self.kind,
                                  "receipt_code": self.receipt_code}
        if self.linked_complaint_id:
            answer |= {"linked_complaint_id": self.linked_complaint_id, "linked_receipt_code": self.linked_receipt_code}
        if self.repeat:
            answer["repeat"] = self.repeat
        return answer


@dataclass(slots=True)
class _Batch:
    """What one call to :meth:`Intake.file` has seen so far, so filings in the same batch see each other."""

    open_reports: list[dict[str, Any]]
    history: list[tuple[str, str | None, str | None, datetime]]
    pending: set[str] = field(default_factory=set)  # items created by this batch (no clock to restart yet)


class Intake:
    def __init__(self, *, handling: Handling, cipher: FieldCipher, hash_salt: bytes, home_region: str, receipt_key: bytes,
                 patterns: ClaimantPatterns = CLAIMANT_PATTERNS) -> None:
        self.handling = handling
        self.clock = handling.clock
        self.cipher = cipher
        self.hash_salt = hash_salt
        self.home_region = home_region
        self.receipt_key = receipt_key
        self.patterns = patterns

    def receipt(self, complaint_id: str) -> str:
        return receipts.receipt_code(self.receipt_key, complaint_id)

    def answer_known(self, pcid: str, known: store.Known) -> Filed:
        linked = known.linked_complaint_id
        return Filed(pcid, known.complaint_id, True, known.kind, self.receipt(known.complaint_id), linked,
                     self.receipt(linked) if linked else None, known.repeat)

    async def file(self, uow: UnitOfWork, *, platform_id: str, filings: list[ComplaintFiling], intake: IntakeChannel,
                   home_region: str | None = None, intake_key: str | None = None) -> list[Filed]:
        """File one platform's items in the caller's transaction, one result per filing in order. Idempotent per
        platform_complaint_id. ``home_region``: the bureau an item goes to when jurisdiction names none."""
        conn = uow.conn
        known = await store.existing_ids(conn, platform_id, [f.platform_complaint_id for f in filings])
        directory = await store.directory_for(conn, platform_id, [f.merchant.store_id for f in filings])
        now = self.clock.now()
        hashes = [domain.consumer_hash(self.hash_salt, f.consumer) for f in filings]
        addresses = [domain.address_hash(self.hash_salt, f.consumer) for f in filings]
        longest = max(self.patterns.volume.window, self.patterns.bulk.window, self.patterns.shared_phone.window,
                      self.patterns.shared_address.window)
        batch = _Batch(
            open_reports=await store.open_reports(conn, [h for h in hashes if h]),
            history=await store.claimant_history(conn, [h for h in hashes if h], [a for a in addresses if a], now - longest),
        )
        rows: list[dict[str, Any]] = []
        fact_rows: list[dict[str, Any]] = []
        steps: list[Step] = []
        flagged: list[tuple[Complaint, ComplaintState, domain.Flag]] = []
        merges: list[tuple[str, str]] = []
        conflicts: list[dict[str, Any]] = []
        results: list[Filed] = []
        for filing, who, address in zip(filings, hashes, addresses, strict=True):
            pcid = filing.platform_complaint_id
            if pcid in known:
                results.append(self.answer_known(pcid, known[pcid]))
                continue
            digest = domain.facts_digest(filing.description)
            repeat = domain.repeat_of(digest, self._open_report(batch, platform_id, filing, who))
            if repeat is not None:
                fact_rows.append(self._fact(repeat.complaint_id, platform_id, filing, digest, now, merged=repeat.new_facts))
                self._remember_fact(batch, repeat.complaint_id, digest)
                if repeat.new_facts and repeat.complaint_id not in batch.pending:
                    merges.append((repeat.complaint_id, pcid))
                answer = store.Known(repeat.complaint_id, "report", None, "new_facts" if repeat.new_facts else "same_facts")
                known[pcid] = answer
                results.append(self.answer_known(pcid, answer))
                continue

            ids = [new_id() for _ in domain.PARTS[filing.kind]]
            parts = [
                domain.receive(complaint_id=cid, platform_id=platform_id, filing=filing, intake=intake, now=now,
                               home_region=home_region or self.home_region, hash_salt=self.hash_salt, kind=kind,
                               platform_domicile=directory.domicile_region,
                               listed_region=directory.store_regions.get(filing.merchant.store_id),
                               linked_complaint_id=next((other for other in ids if other != cid), None))
                for cid, kind in zip(ids, domain.PARTS[filing.kind], strict=True)
            ]
            name = domain.name_hash(self.hash_salt, filing.consumer)
            signs = self._signs(batch, who, name, address, now) if who else None
            if who:
                batch.history.append((who, name, address, now))
            for complaint in parts:
                first = domain.route_new_item(domain.track_of(complaint), at=now, calendar=self.handling.calendar,
                                              policy=self.handling.policy, connected=directory.connected)
                code = self.receipt(complaint.complaint_id)
                rows.append(store.complaint_row(complaint, self.cipher) | store.track_columns(first, None) | {
                    "receipt_hash": receipts.lookup_hash(self.receipt_key, code),
                    "intake_key": intake_key if complaint is parts[0] else None,
                    "consumer_name_hash": name,
                    "consumer_address_hash": address,
                })
                # The received event first: per item, events leave in the order they were queued.
                received_id = self.handling.publish(uow, domain.received_event(complaint), subject=complaint.complaint_id,
                                                    region=complaint.region, platform_id=platform_id, time=now)
                if complaint.jurisdiction_conflict:
                    conflicts.append(self._conflict(complaint, received_id, now))
                steps.extend(first)
                if complaint.kind is FilingKind.REPORT:
                    fact_rows.append(self._fact(complaint.complaint_id, platform_id, filing, digest, now, merged=False))
                    if who:
                        batch.open_reports.append({"complaint_id": complaint.complaint_id, "consumer_hash": who, "platform_id": platform_id,
                                                   "store_id": filing.merchant.store_id, "merchant_uscc": filing.merchant.uscc,
                                                   "facts": {digest}})
                        batch.pending.add(complaint.complaint_id)
                for flag in domain.claimant_flags(signs, self.patterns) if signs else []:
                    flagged.append((complaint, first[-1].track.state, flag))
            report = parts[1] if len(parts) > 1 else None
            answer = store.Known(parts[0].complaint_id, parts[0].kind.value, report.complaint_id if report else None)
            known[pcid] = answer
            results.append(replace(self.answer_known(pcid, answer), duplicate=False))
        await store.insert_complaints(conn, rows)
        if steps:
            await self.handling.record(uow, steps)
        await store.insert_rows(conn, store.facts, fact_rows)
        await self._raise_flags(uow, flagged, now)
        await store.insert_audit(conn, conflicts)
        for complaint_id, pcid in merges:
            await self._merge(uow, complaint_id, pcid)
        return results

    @staticmethod
    def _open_report(batch: _Batch, platform_id: str, filing: ComplaintFiling, who: str | None) -> OpenReport | None:
        """The reporter's open report about the same merchant: the same store on the same platform, or the
        same business (USCC) anywhere."""
        if who is None or filing.kind is not FiledKind.REPORT:
            return None
        uscc = filing.merchant.uscc
        for item in batch.open_reports:
            same_store = item["platform_id"] == platform_id and item["store_id"] == filing.merchant.store_id
            if item["consumer_hash"] == who and (same_store or (uscc is not None and item["merchant_uscc"] == uscc)):
                return OpenReport(item["complaint_id"], frozenset(item["facts"]))
        return None

    @staticmethod
    def _remember_fact(batch: _Batch, complaint_id: str, digest: str) -> None:
        for item in batch.open_reports:
            if item["complaint_id"] == complaint_id:
                item["facts"].add(digest)

    @staticmethod
    def _fact(complaint_id: str, platform_id: str, filing: ComplaintFiling, digest: str, now: datetime, *, merged: bool) -> dict[str, Any]:
        return {"fact_id": new_id(), "complaint_id": complaint_id, "platform_id": platform_id,
                "platform_complaint_id": filing.platform_complaint_id, "at": store.utc(now), "facts_digest": digest,
                "description": filing.description, "merged": merged}

    def _signs(self, batch: _Batch, who: str, name: str | None, address: str | None, now: datetime) -> ClaimantSigns:
        p = self.patterns
        mine = [(n, at) for h, n, _, at in batch.history if h == who]
        names = {n for n, at in mine if n and at >= now - p.shared_phone.window} | ({name} if name else set())
        neighbours = {h for h, _, a, at in batch.history if address and a == address and at >= now - p.shared_address.window} | {who}
        return ClaimantSigns(
            filings=1 + sum(1 for _, at in mine if at >= now - p.volume.window),
            recent_filings=1 + sum(1 for _, at in mine if at >= now - p.bulk.window),
            names_for_phone=len(names),
            consumers_at_address=len(neighbours) if address else 0,
        )

    @staticmethod
    def _conflict(complaint: Complaint, received_id: str, now: datetime) -> dict[str, Any]:
        """The audit record of a jurisdiction conflict, made with the received event that carries the region."""
        detail = (f"the filing publishes region {complaint.filing.merchant.region}; bridge's directory lists the store in "
                  f"{complaint.jurisdiction_conflict}; the published region governs")
        state = ComplaintState.RECEIVED.value
        return {"complaint_id": complaint.complaint_id, "at": store.utc(now), "actor_role": INTAKE.role.value, "actor": INTAKE.subject,
                "from_state": state, "to_state": state, "event_type": ComplaintReceived.event_type, "event_id": received_id,
                "ground": "jurisdiction-conflict", "detail": detail, "rule_id": "domain/jurisdiction-published-address"}

    async def _raise_flags(self, uow: UnitOfWork, flagged: list[tuple[Complaint, ComplaintState, domain.Flag]], now: datetime) -> None:
        flag_rows, audit_rows = [], []
        for complaint, state, flag in flagged:
            flag_id = new_id()
            event = ComplaintFlagged(complaint_id=complaint.complaint_id, platform_id=complaint.platform_id, region=complaint.region,
                                     state=state, at=now, flag_id=flag_id, pattern=flag.pattern, detail=flag.detail, rule_id=flag.rule_id)
            event_id = self.handling.publish(uow, event, subject=complaint.complaint_id, region=complaint.region,
                                             platform_id=complaint.platform_id, time=now)
            flag_rows.append({"flag_id": flag_id, "complaint_id": complaint.complaint_id, "pattern": flag.pattern.value,
                              "detail": flag.detail, "rule_id": flag.rule_id, "raised_at": store.utc(now)})
            audit_rows.append({"complaint_id": complaint.complaint_id, "at": store.utc(now), "actor_role": INTAKE.role.value,
                               "actor": INTAKE.subject, "from_state": state.value, "to_state": state.value,
                               "event_type": ComplaintFlagged.event_type, "event_id": event_id, "ground": f"flag:{flag.pattern}",
                               "detail": flag.detail, "rule_id": flag.rule_id})
        await store.insert_rows(uow.conn, store.flags, flag_rows)
        await store.insert_audit(uow.conn, audit_rows)

    async def _merge(self, uow: UnitOfWork, complaint_id: str, pcid: str) -> None:
        calendar = self.handling.calendar
        await self.handling.transition(
            uow, complaint_id, lambda track, now: [domain.merge_facts(track, platform_complaint_id=pcid, at=now, calendar=calendar)]
        )
