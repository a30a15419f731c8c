"""bridge wiring: settings → service runtime → registry, receiver, applier → HTTP routes."""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from pydantic import Field
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from contracts.events.bridge import BRIDGE_EVENTS, FAIRONLINE_ASSIGNMENTS, FAIRONLINE_OUTCOMES, FairOnlineOutcomeRecord
from services.bridge import api, credentials_api, exchange_api, faironline_api, new_forms_api, subjects_api
from services.bridge.apply import Applier
from services.bridge.credentials import Credentials
from services.bridge.data_requests import DataRequests
from services.bridge.faironline import FairOnline, assignment_consumer, provincial_credential
from services.bridge.feed_topics import FeedTopics
from services.bridge.kafka_topics import ensure_topics
from services.bridge.new_forms import NewForms
from services.bridge.platforms import Registry
from services.bridge.reports import Reports
from services.bridge.store_batches import StoreBatches
from services.bridge.streaming_apply import StreamingApply
from services.bridge.submission_deadlines import DeadlineWatch
from services.bridge.submissions import Receiver
from services.bridge.watch import Watch
from services.bridge.websites import Websites
from services.runtime.calendar import default_calendar
from services.runtime.clock import Clock
from services.runtime.collector import tune_collector
from services.runtime.http import BodyLimit
from services.runtime.keys import FieldCipher, dev_secret
from services.runtime.service import Service
from services.runtime.settings import ServiceSettings, load

log = logging.getLogger("redshield.bridge")
_UPLOAD_PATH: Final = re.compile(r"^/v1/platforms/[^/]+/submissions$")
_RESUME_PATH: Final = re.compile(r"^/v1/submissions/[^/]+$")
_DELIVERY_PATH: Final = re.compile(r"^/v1/data-requests/[^/]+/deliveries$")


class BridgeSettings(ServiceSettings):
    #: Key for personal data at rest (ID numbers, contacts). REDSHIELD_BRIDGE_PII_KEY.
    pii_key: str | None = None
    #: Key of the digests that compare store content and ID numbers without revealing them. REDSHIELD_BRIDGE_DIGEST_KEY.
    digest_key: str | None = None
    #: Outbox rows per relay pass (2,000 elsewhere): a semi-annual submission commits one event per store, millions
    #: at once, and larger passes publish them faster (bench relay, PostgreSQL, 200,000 events: 13,020 / 13,111 →
    #: 13,940 / 14,994 events/s; docs/performance.md).
    relay_batch_size: int = 10_000
    #: Rows staged per transaction while an upload streams in.
    submission_batch_rows: int = 5000
    #: Rows per page when a submission is applied (events written per page).
    apply_page_rows: int = 5000
    #: Largest submission body: 9 million stores of ~400 bytes, with room to spare.
    max_submission_bytes: int = 16 * 1024**3
    #: An upload with no progress for this long is marked interrupted (its staged rows kept for a resume).
    stale_upload_seconds: float = 60.0
    #: How long an interrupted upload's staged rows wait for the rest of its file before they are discarded.
    resume_window_seconds: float = Field(default=86_400.0, ge=0)
    #: Where delivered data is kept (default: <var_dir>/bridge/deliveries).
    delivery_dir: Path | None = None
    #: Largest delivery for a data request (a file), and largest one sent as JSON (parsed to check it).
    max_delivery_bytes: int = 4 * 1024**3
    max_delivery_json_bytes: int = 64 * 1024**2
    #: Semi-annual submissions are due by the end of this day of January (H1) and July (H2), China time.
    submission_deadline_day: int = Field(default=31, ge=1, le=31)
    #: How often the watch looks for overdue data requests and missed submission deadlines.
    watch_interval_seconds: float = 60.0
    #: How often the feed-topic job retries while Kafka cannot create a connected platform's topics.
    feed_topics_retry_seconds: float = 10.0
    feed_topic_partitions: int = Field(default=3, ge=1)
    #: The credential Zhejiang Fair Online presents (Bearer) to post items and poll outcomes. REDSHIELD_BRIDGE_FAIRONLINE_TOKEN.
    faironline_token: str | None = None
    #: Lifetime of the platform tokens ``POST /v1/token`` issues for an API credential.
    platform_token_ttl_seconds: int = Field(default=900, ge=60, le=24 * 3600)


class UploadAwareBodyLimit(BodyLimit):
    """The service-wide body limit, except for submission uploads, which stream millions of rows.

    The runtime's limit applies to every path; a submission has its own, much larger one.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int, delivery_max_bytes: int) -> None:
        super().__init__(app, max_bytes)
        self.uploads = BodyLimit(app, upload_max_bytes)
        self.deliveries = BodyLimit(app, delivery_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "PATCH" and _RESUME_PATH.match(scope.get("path", "")):
            await self.uploads(scope, receive, send)  # the rest of an interrupted upload
            return
        if scope["type"] == "http" and scope.get("method") == "POST":
            path = scope.get("path", "")
            if _UPLOAD_PATH.match(path):
                await self.uploads(scope, receive, send)
                return
            if _DELIVERY_PATH.match(path):
                await self.deliveries(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _bridge_settings(settings: ServiceSettings | None) -> BridgeSettings:
    if isinstance(settings, BridgeSettings):
        return settings
    if settings is None:
        return load("bridge", BridgeSettings)
    # Callers that know only the common settings (the test harness, the CLI) still get bridge's own fields from the environment.
    return load("bridge", BridgeSettings, **settings.model_dump(exclude={"service"}))


async def _tune_collector() -> None:
    # An upload keeps a batch's ~20,000 staged ids, lines and records alive while the next one is read: at CPython's
    # default thresholds its older generations were walked over and over, start-up's objects with them.
    tune_collector()


def build(settings: ServiceSettings | None = None, *, clock: Clock | None = None, db_schema: str | None = None) -> tuple[Service, FastAPI]:
    config = _bridge_settings(settings)
    service = Service(config, clock=clock, db_schema=db_schema)
    cipher = FieldCipher(dev_secret(service.shared, "REDSHIELD_BRIDGE_PII_KEY", config.pii_key))
    digest_key = dev_secret(service.shared, "REDSHIELD_BRIDGE_DIGEST_KEY", config.digest_key).encode()
    registry = Registry(clock=service.clock, cipher=cipher)
    receiver = Receiver(service, clock=service.clock, cipher=cipher, mac_key=digest_key, batch_size=config.submission_batch_rows,
                        stale_after_s=config.stale_upload_seconds, resume_window_s=config.resume_window_seconds)
    applier = Applier(service, clock=service.clock, page_size=config.apply_page_rows, housekeeping=receiver.sweep_stale,
                      deadline_day=config.submission_deadline_day)
    receiver.apply_while_staged = functools.partial(StreamingApply.begin, applier)
    service.on_start(_tune_collector)
    service.on_start(applier.start)
    service.on_stop(applier.stop)
    app = service.app(title="redshield bridge (红盾云桥)", description="Government–platform data exchange: platform registry, "
                      "subject database, semi-annual submissions, monthly reports, data requests.")
    app.user_middleware[:] = [
        Middleware(UploadAwareBodyLimit, max_bytes=config.max_body_bytes, upload_max_bytes=config.max_submission_bytes,
                   delivery_max_bytes=config.max_delivery_bytes)
        if m.cls is BodyLimit else m  # type: ignore[comparison-overlap]
        for m in app.user_middleware
    ]
    api.install(app, service, registry, receiver, applier)
    reports = Reports(clock=service.clock)
    requests = DataRequests(service, clock=service.clock, calendar=default_calendar(),
                            delivery_dir=config.delivery_dir or service.shared.var_dir / "bridge" / "deliveries",
                            max_bytes=config.max_delivery_bytes, max_json_bytes=config.max_delivery_json_bytes)
    deadlines = DeadlineWatch(service, clock=service.clock, deadline_day=config.submission_deadline_day)
    watch = Watch(requests, deadlines, interval_s=config.watch_interval_seconds)
    service.background("watch", watch.run)
    feeds = FeedTopics(service, clock=service.clock, wakeup=registry.connected, retry_s=config.feed_topics_retry_seconds,
                       partitions=config.feed_topic_partitions)
    service.background("feed-topics", feeds.run)
    app.state.feeds = feeds
    exchange_api.install(app, service, registry, reports, requests, deadlines)
    new_forms = NewForms(clock=service.clock, cipher=cipher, mac_key=digest_key)
    subjects_api.install(app, service, Websites(clock=service.clock), new_forms,
                         StoreBatches(clock=service.clock, cipher=cipher, mac_key=digest_key))
    new_forms_api.install(app, service, new_forms)
    credentials_api.install(app, service, Credentials(service, clock=service.clock, token_ttl_s=config.platform_token_ttl_seconds))
    fair_online = FairOnline(service, clock=service.clock)
    faironline_api.install(app, service, fair_online, provincial_credential(service.shared, config.faironline_token))
    assignment_consumer(service, fair_online).subscribe(
        service.broker, FAIRONLINE_ASSIGNMENTS, group_id="bridge-faironline", title="bridge/faironline.assignments",
        description="Items Zhejiang Fair Online assigns to the bureau, in the province's own schema")
    service.broker.publisher(config.topic_prefix + FAIRONLINE_OUTCOMES, schema=FairOnlineOutcomeRecord, title="bridge/faironline.outcomes",
                             description="Outcomes returned to Zhejiang Fair Online, in the province's schema", include_in_schema=True)

    async def faironline_topics() -> None:
        # The subscriber needs the province's topic to exist; a broker that cannot create it now is not fatal.
        try:
            await ensure_topics(config, [FAIRONLINE_ASSIGNMENTS, FAIRONLINE_OUTCOMES])
        except Exception:
            log.exception("could not create the Fair Online topics; the broker's auto-creation or an operator must")

    service.on_start(faironline_topics)
    for model in BRIDGE_EVENTS:
        service.documents(model.topic, model)
    app.state.bridge = (registry, receiver, applier)
    app.state.watch = watch
    app.state.deadlines = deadlines
    return service, app
