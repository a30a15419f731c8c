"""The intake use case: platform filings (HTTP or feed) become items, each with its received event, and go
straight on to their first step (first handling, the bureau's track, or verification)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.codes import IntakeChannel
from contracts.events.channel import ComplaintFiling
from contracts.ids import new_id
from services.channel import domain, store
from services.channel.domain import Step
from services.channel.handling import Handling
from services.runtime.keys import FieldCipher
from services.runtime.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Filed:
    platform_complaint_id: str
    complaint_id: str
    duplicate: bool


class Intake:
    def __init__(self, *, handling: Handling, cipher: FieldCipher, hash_salt: bytes, home_region: str) -> None:
        self.handling = handling
        self.clock = handling.clock
        self.cipher = cipher
        self.hash_salt = hash_salt
        self.home_region = home_region

    async def file(self, uow: UnitOfWork, *, platform_id: str, filings: list[ComplaintFiling], intake: IntakeChannel) -> list[Filed]:
        """File one platform's items in the caller's transaction. Idempotent per platform_complaint_id."""
        known = await store.existing_ids(uow.conn, platform_id, [f.platform_complaint_id for f in filings])
        now = self.clock.now()
        rows: list[dict[str, Any]] = []
        steps: list[Step] = []
        results: list[Filed] = []
        for filing in filings:
            pcid = filing.platform_complaint_id
            if pcid in known:
                results.append(Filed(pcid, known[pcid], duplicate=True))
                continue
            complaint = domain.receive(
                complaint_id=new_id(),
                platform_id=platform_id,
                filing=filing,
                intake=intake,
                now=now,
                home_region=self.home_region,
                hash_salt=self.hash_salt,
            )
            known[pcid] = complaint.complaint_id
            first = domain.route_new_item(domain.track_of(complaint), at=now, calendar=self.handling.calendar, policy=self.handling.policy)
            rows.append(store.complaint_row(complaint, self.cipher) | store.track_columns(first, None))
            # The received event first: per item, events leave in the order they were queued.
            self.handling.publish(uow, domain.received_event(complaint), subject=complaint.complaint_id, region=complaint.region,
                                  platform_id=platform_id, time=now)
            steps.extend(first)
            results.append(Filed(pcid, complaint.complaint_id, duplicate=False))
        await store.insert_complaints(uow.conn, rows)
        if steps:
            await self.handling.record(uow, steps)
        return results
