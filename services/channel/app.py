"""channel wiring: settings → service runtime → calendar and rules → use cases → HTTP routes, feed consumers
and the deadline scheduler."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field

from contracts import topics
from contracts.events.channel import HANDLING_EVENTS, ComplaintAssigned, ComplaintReceived
from services.channel import api, consumers, directory
from services.channel.handling import Handling
from services.channel.intake import Intake
from services.channel.rules import FirstHandlingPolicy
from services.channel.scheduler import DeadlineScheduler
from services.runtime.calendar import build_calendar, default_calendar
from services.runtime.clock import Clock
from services.runtime.keys import FieldCipher, dev_secret
from services.runtime.service import Service
from services.runtime.settings import ServiceSettings, load


class ChannelSettings(ServiceSettings):
    #: Key for personal data at rest (Fernet key or passphrase). REDSHIELD_CHANNEL_PII_KEY.
    pii_key: str | None = None
    #: Salt of the consumer hash that events carry instead of personal data. REDSHIELD_CHANNEL_CONSUMER_HASH_SALT.
    consumer_hash_salt: str | None = None
    #: Key receipt codes are derived from and looked up with. REDSHIELD_CHANNEL_RECEIPT_KEY. Changing it
    #: invalidates every code given out.
    receipt_key: str | None = None
    #: First-handling working days agreed with individual platforms, e.g. '{"P001": 7}' (default: the rule set's).
    first_handling_days: dict[str, int] = Field(default_factory=dict)
    #: Platforms whose complaints skip first handling and go straight to the bureau, e.g. '["P009"]'.
    platforms_without_first_handling: list[str] = Field(default_factory=list)
    #: Extra holiday override files (JSON, see services/runtime/data/holidays.json) for years being added.
    holiday_files: list[Path] = Field(default_factory=list)
    #: How often the deadline scheduler looks for due notices.
    deadline_scan_interval_ms: int = 1000


def build(settings: ChannelSettings | None = None, *, clock: Clock | None = None, db_schema: str | None = None) -> tuple[Service, FastAPI]:
    settings = settings or load("channel", ChannelSettings)
    service = Service(settings, clock=clock, db_schema=db_schema)
    cipher = FieldCipher(dev_secret(service.shared, "REDSHIELD_CHANNEL_PII_KEY", settings.pii_key))
    salt = dev_secret(service.shared, "REDSHIELD_CHANNEL_CONSUMER_HASH_SALT", settings.consumer_hash_salt).encode()
    calendar = build_calendar(settings.holiday_files) if settings.holiday_files else default_calendar()
    policy = FirstHandlingPolicy(days_by_platform=dict(settings.first_handling_days),
                                 not_connected=frozenset(settings.platforms_without_first_handling))
    handling = Handling(clock=service.clock, calendar=calendar, policy=policy)
    receipt_key = dev_secret(service.shared, "REDSHIELD_CHANNEL_RECEIPT_KEY", settings.receipt_key).encode()
    intake = Intake(handling=handling, cipher=cipher, hash_salt=salt, home_region=settings.home_region, receipt_key=receipt_key)
    scheduler = DeadlineScheduler(uow=service.uow, handling=handling, interval=settings.deadline_scan_interval_ms / 1000)
    service.on_start(scheduler.start)
    service.on_stop(scheduler.stop)
    app = service.app(title="redshield channel (红旗渠)", description="The complaint canal: platforms file, the bureau watches.")
    app.state.scheduler = scheduler
    api.install(app, service, intake, handling)
    consumers.install(service, intake, handling)
    directory.install(service)
    service.documents(topics.CHANNEL_COMPLAINTS, ComplaintReceived)
    for model in HANDLING_EVENTS:
        service.documents(topics.CHANNEL_COMPLAINTS, model)
    # Its own title: the same event type on two topics would otherwise be one AsyncAPI channel, named twice.
    service.broker.publisher(settings.topic_prefix + "notify.{platform_id}.v1", schema=ComplaintAssigned,
                             title=f"channel/notify/{ComplaintAssigned.event_type}",
                             description="Complaints assigned to the platform for first handling, on its own notify topic.",
                             include_in_schema=True)
    service.broker.publisher(settings.topic_prefix + "region.{region}.v1", schema=ComplaintReceived,
                             title="channel/region/complaint-events",
                             description="Every event about an item, also on the topic of its jurisdiction's region, for that bureau.",
                             include_in_schema=True)
    return service, app
