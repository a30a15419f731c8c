"""Applying the state machine inside a unit of work: the item's row, its deadlines, its audit rows and its
events commit together, or not at all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from contracts import topics
from contracts.envelope import Envelope
from contracts.events.base import EventData
from contracts.events.channel import ComplaintAssigned
from contracts.ids import new_id
from services.channel import domain, store
from services.channel.domain import Step, Track
from services.channel.rules import FirstHandlingPolicy
from services.runtime.calendar import WorkingCalendar
from services.runtime.clock import Clock
from services.runtime.logs import trace_id_var, traceparent_for
from services.runtime.uow import UnitOfWork

SOURCE = "/redshield/channel"

#: Decides the steps for an item as it stands now; raises a domain error when the move is not allowed.
Decision = Callable[[Track, datetime], Sequence[Step]]


class UnknownComplaint(LookupError):
    """No such item, or not one the caller may act on: both answer the same (another tenant's item is a 404)."""

    def __init__(self, complaint_id: str) -> None:
        super().__init__(f"no complaint {complaint_id}")
        self.complaint_id = complaint_id


def envelope(event: EventData, *, subject: str, region: str | None, platform_id: str | None, time: datetime) -> Envelope:
    return Envelope(
        type=event.event_type,
        source=SOURCE,
        subject=subject,
        data=event.model_dump(mode="json", exclude_none=True),
        time=time,
        dataschema=event.dataschema(),
        region=region,
        platformid=platform_id,
        traceparent=traceparent_for(trace_id_var.get()),
    )


class Handling:
    def __init__(self, *, clock: Clock, calendar: WorkingCalendar, policy: FirstHandlingPolicy) -> None:
        self.clock = clock
        self.calendar = calendar
        self.policy = policy

    def publish(self, uow: UnitOfWork, event: EventData, *, subject: str, region: str, platform_id: str, time: datetime) -> str:
        """Queue an event on its topic and on its region's topic (``region.<code>.v1``, where a bureau reads its
        own items by a prefixed ACL); an assignment also goes to the platform's own notify topic. Each copy has
        its own id, as the outbox keeps one row per id; all commit in the caller's transaction."""
        env = envelope(event, subject=subject, region=region, platform_id=platform_id, time=time)
        uow.publish(event.topic, env)
        # The copies share the serialised data (one model_dump per event, not one per copy).
        uow.publish(topics.region(region), replace(env, id=new_id()))
        if isinstance(event, ComplaintAssigned):
            uow.publish(topics.notify(platform_id), replace(env, id=new_id()))
        return env.id

    async def record(self, uow: UnitOfWork, steps: Sequence[Step]) -> None:
        """Events, deadlines and audit rows of steps whose items' rows are already written."""
        event_ids = [
            self.publish(uow, s.event, subject=s.track.complaint_id, region=s.track.region, platform_id=s.track.platform_id,
                         time=s.audit.at)
            for s in steps
        ]
        approaching = [domain.approaching_day(s.track, self.calendar) for s in steps]
        await store.record_steps(uow.conn, steps, event_ids, approaching)

    async def transition(self, uow: UnitOfWork, complaint_id: str, decide: Decision, *, owner: str | None = None,
                         may_act: Callable[[Track], bool] | None = None) -> list[Step]:
        """Load the item (locked), decide, and write what the decision changes. ``owner``: the platform that
        must own the item; ``may_act``: the caller's scope. An item outside either is :class:`UnknownComplaint`."""
        loaded = await store.load_track(uow.conn, complaint_id)
        outside = loaded is None or (owner is not None and loaded.track.platform_id != owner)
        if loaded is None or outside or (may_act is not None and not may_act(loaded.track)):
            raise UnknownComplaint(complaint_id)
        steps = list(decide(loaded.track, self.clock.now()))
        if steps:
            await store.update_track(uow.conn, loaded, steps)
            await self.record(uow, steps)
        return steps
