"""channel's Kafka entry points: every platform's complaint feed and answers feed, by topic pattern."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import ValidationError

from contracts import topics
from contracts.codes import IntakeChannel
from contracts.envelope import Envelope
from contracts.events.channel import ComplaintAnswered, ComplaintFiling, ComplaintSubmitted, FirstHandlingAnswer
from services.channel import first_handling, metrics
from services.channel.domain import IllegalTransition, IntakeRejected, TransitionError, check_filing
from services.channel.handling import Handling, UnknownComplaint
from services.channel.intake import Filed, Intake
from services.runtime.consumer import Delivery, Rejected
from services.runtime.service import Service

FEED_CONSUMER = "channel"  # consumer group and DLQ: dlq.channel.v1
#: Its own group (and DLQ, dlq.channel-answers.v1): a slow answers feed never holds up intake, and a group
#: with one subscription rebalances only when that subscription's topics change.
ANSWERS_CONSUMER = "channel-answers"


def _check_platform(topic: str, envelope: Envelope, kind: str) -> str:
    """The topic authenticates the platform (prefixed ACLs); a record claiming another platform is refused."""
    platform = topics.platform_of_feed_topic(topic)
    if platform is None or not topic.endswith(f".{kind}.v1"):
        raise Rejected("not-a-feed-topic", f"{topic} is not feed.<platform_id>.{kind}.v1")
    if envelope.source != f"/platforms/{platform}":
        raise Rejected("platform-mismatch", f"ce_source {envelope.source!r} on {topic}; expected /platforms/{platform}")
    if envelope.platformid and envelope.platformid != platform:
        raise Rejected("platform-mismatch", f"ce_platformid {envelope.platformid!r} on {topic}")
    return platform


def check_feed_origin(topic: str, envelope: Envelope) -> None:
    _check_platform(topic, envelope, "complaints")
    if envelope.type != ComplaintSubmitted.event_type:
        raise Rejected("unexpected-type", f"{envelope.type} on a complaint feed; expected {ComplaintSubmitted.event_type}")


def check_answers_origin(topic: str, envelope: Envelope) -> None:
    # Other record types on this topic (disposal acknowledgements) are collab's; the handler passes them by.
    _check_platform(topic, envelope, "answers")


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
            seen_first = await uow.first_times(
                FEED_CONSUMER, [(d.envelope.source, d.envelope.id) for items in by_platform.values() for d, _ in items]
            )
            filed: list[Filed] = []
            for platform, items in by_platform.items():
                fresh: list[ComplaintFiling] = []
                for d, filing in items:
                    if (d.envelope.source, d.envelope.id) in seen_first:
                        # Once per event: the inbox already counted a redelivery in the same poll as a duplicate.
                        seen_first.discard((d.envelope.source, d.envelope.id))
                        fresh.append(filing)
                filed += await intake.file(uow, platform_id=platform, filings=fresh, intake=IntakeChannel.PLATFORM_FEED)
            await uow.commit()
        metrics.filed(IntakeChannel.PLATFORM_FEED, filed)
        return rejected

    return handle


def answers_handler(service: Service, handling: Handling):  # type: ignore[no-untyped-def]
    """Each answer in its own transaction: one platform's bad answer must not undo another's good one."""

    async def handle(batch: Sequence[Delivery]) -> list[tuple[Delivery, Rejected]]:
        rejected: list[tuple[Delivery, Rejected]] = []
        for delivery in batch:
            envelope = delivery.envelope
            if envelope.type != ComplaintAnswered.event_type:
                continue  # not addressed to channel (see check_answers_origin)
            platform = topics.platform_of_feed_topic(delivery.topic)
            assert platform is not None  # checked before the batch reached us
            try:
                record = ComplaintAnswered.model_validate(envelope.data)
            except ValidationError as exc:
                fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                rejected.append((delivery, Rejected("schema", fields)))
                continue
            reply = FirstHandlingAnswer(outcome=record.outcome, refund_amount=record.refund_amount, reason=record.reason)
            try:
                async with service.uow() as uow:
                    fresh = await uow.first_time(ANSWERS_CONSUMER, envelope.source, envelope.id)
                    if fresh:
                        await first_handling.answer(handling, uow, platform_id=platform, complaint_id=record.complaint_id, reply=reply,
                                                    actor=f"feed:{envelope.source}")
                    await uow.commit()
                if fresh:
                    metrics.platform_responded(reply.outcome)
            except UnknownComplaint as exc:
                rejected.append((delivery, Rejected("unknown-complaint", str(exc))))
            except IllegalTransition as exc:
                detail = f"{exc}; current state {exc.current}"
                rejected.append((delivery, Rejected(exc.reason, detail)))
            except TransitionError as exc:
                rejected.append((delivery, Rejected(exc.reason, str(exc))))
        return rejected

    return handle


def install(service: Service, intake: Intake, handling: Handling) -> None:
    consumer = service.consumer(FEED_CONSUMER, feed_handler(service, intake), precheck=check_feed_origin)
    consumer.subscribe(
        service.broker,
        pattern="feed.{platform_id}.complaints.v1",
        group_id="channel",
        title="channel/feed-complaints",
        description="Every platform's complaint feed (feed.<platform_id>.complaints.v1), joined by topic pattern.",
    )
    answers = service.consumer(ANSWERS_CONSUMER, answers_handler(service, handling), precheck=check_answers_origin)
    answers.subscribe(
        service.broker,
        pattern="feed.{platform_id}.answers.v1",
        group_id=ANSWERS_CONSUMER,
        title="channel/feed-answers",
        description="Every platform's first-handling answers (feed.<platform_id>.answers.v1), joined by topic pattern.",
    )
