"""channel's Kafka entry points: every platform's complaint feed, by topic pattern."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import ValidationError

from contracts import topics
from contracts.codes import IntakeChannel
from contracts.envelope import Envelope
from contracts.events.channel import ComplaintFiling, ComplaintSubmitted
from services.channel.domain import IntakeRejected, check_filing
from services.channel.intake import Intake
from services.runtime.consumer import Delivery, Rejected
from services.runtime.service import Service

FEED_CONSUMER = "channel"  # consumer group and DLQ: dlq.channel.v1


def check_feed_origin(topic: str, envelope: Envelope) -> None:
    """The topic authenticates the platform (prefixed ACLs); a record claiming another platform is refused."""
    platform = topics.platform_of_feed_topic(topic)
    if platform is None:
        raise Rejected("not-a-feed-topic", f"{topic} is not feed.<platform_id>.complaints.v1")
    if envelope.type != ComplaintSubmitted.event_type:
        raise Rejected("unexpected-type", f"{envelope.type} on a complaint feed; expected {ComplaintSubmitted.event_type}")
    if envelope.source != f"/platforms/{platform}":
        raise Rejected("platform-mismatch", f"ce_source {envelope.source!r} on {topic}; expected /platforms/{platform}")
    if envelope.platformid and envelope.platformid != platform:
        raise Rejected("platform-mismatch", f"ce_platformid {envelope.platformid!r} on {topic}")


def feed_handler(service: Service, intake: Intake):  # type: ignore[no-untyped-def]
    async def handle(batch: Sequence[Delivery]) -> list[tuple[Delivery, Rejected]]:
        rejected: list[tuple[Delivery, Rejected]] = []
        now = service.clock.now()
        by_platform: dict[str, list[tuple[Delivery, ComplaintFiling]]] = defaultdict(list)
        for delivery in batch:
            try:
                filing = ComplaintFiling.model_validate(delivery.envelope.data)
                check_filing(filing, now)
            except ValidationError as exc:
                fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                rejected.append((delivery, Rejected("schema", fields)))
                continue
            except IntakeRejected as exc:
                rejected.append((delivery, Rejected(exc.reason, exc.detail)))
                continue
            platform = topics.platform_of_feed_topic(delivery.topic)
            assert platform is not None  # checked before the batch reached us
            by_platform[platform].append((delivery, filing))
        async with service.uow() as uow:
            for platform, items in by_platform.items():
                fresh: list[ComplaintFiling] = []
                for delivery, filing in items:
                    if await uow.first_time(FEED_CONSUMER, delivery.envelope.source, delivery.envelope.id):
                        fresh.append(filing)
                await intake.file(uow, platform_id=platform, filings=fresh, intake=IntakeChannel.PLATFORM_FEED)
            await uow.commit()
        return rejected

    return handle


def install(service: Service, intake: Intake) -> None:
    consumer = service.consumer(FEED_CONSUMER, feed_handler(service, intake), precheck=check_feed_origin)
    consumer.subscribe(
        service.broker,
        pattern="feed.{platform_id}.complaints.v1",
        group_id="channel",
        title="channel/feed-complaints",
        description="Every platform's complaint feed (feed.<platform_id>.complaints.v1), joined by topic pattern.",
    )
