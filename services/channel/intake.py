"""The intake use case: platform filings (HTTP or feed) become complaints, each with its received event."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.codes import IntakeChannel
from contracts.envelope import Envelope
from contracts.events.channel import ComplaintFiling
from contracts.ids import new_id
from services.channel import domain, store
from services.runtime.clock import Clock
from services.runtime.keys import FieldCipher
from services.runtime.logs import trace_id_var, traceparent_for
from services.runtime.uow import UnitOfWork

SOURCE = "/redshield/channel"


@dataclass(frozen=True, slots=True)
class Filed:
    platform_complaint_id: str
    complaint_id: str
    duplicate: bool


class Intake:
    def __init__(self, *, clock: Clock, cipher: FieldCipher, hash_salt: bytes, home_region: str) -> None:
        self.clock = clock
        self.cipher = cipher
        self.hash_salt = hash_salt
        self.home_region = home_region

    async def file(self, uow: UnitOfWork, *, platform_id: str, filings: list[ComplaintFiling], intake: IntakeChannel) -> list[Filed]:
        """File one platform's items in the caller's transaction. Idempotent per platform_complaint_id."""
        known = await store.existing_ids(uow.conn, platform_id, [f.platform_complaint_id for f in filings])
        now = self.clock.now()
        rows = []
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
            rows.append(store.complaint_row(complaint, self.cipher))
            event = domain.received_event(complaint)
            uow.publish(
                event.topic,
                Envelope(
                    type=event.event_type,
                    source=SOURCE,
                    subject=complaint.complaint_id,
                    data=event.model_dump(mode="json", exclude_none=True),
                    time=now,
                    dataschema=event.dataschema(),
                    region=complaint.region,
                    platformid=platform_id,
                    traceparent=traceparent_for(trace_id_var.get()),
                ),
            )
            results.append(Filed(pcid, complaint.complaint_id, duplicate=False))
        await store.insert_complaints(uow.conn, rows)
        return results
