"""channel wiring: settings → service runtime → intake use case → HTTP routes and feed consumer."""

from __future__ import annotations

from fastapi import FastAPI

from contracts import topics
from contracts.events.channel import ComplaintReceived
from services.channel import api, consumers
from services.channel.intake import Intake
from services.runtime.clock import Clock
from services.runtime.keys import FieldCipher, dev_secret
from services.runtime.service import Service
from services.runtime.settings import ServiceSettings, load


class ChannelSettings(ServiceSettings):
    #: Key for personal data at rest (Fernet key or passphrase). REDSHIELD_CHANNEL_PII_KEY.
    pii_key: str | None = None
    #: Salt of the consumer hash that events carry instead of personal data. REDSHIELD_CHANNEL_CONSUMER_HASH_SALT.
    consumer_hash_salt: str | None = None


def build(settings: ChannelSettings | None = None, *, clock: Clock | None = None, db_schema: str | None = None) -> tuple[Service, FastAPI]:
    settings = settings or load("channel", ChannelSettings)
    service = Service(settings, clock=clock, db_schema=db_schema)
    cipher = FieldCipher(dev_secret(service.shared, "REDSHIELD_CHANNEL_PII_KEY", settings.pii_key))
    salt = dev_secret(service.shared, "REDSHIELD_CHANNEL_CONSUMER_HASH_SALT", settings.consumer_hash_salt).encode()
    intake = Intake(clock=service.clock, cipher=cipher, hash_salt=salt, home_region=settings.home_region)
    app = service.app(title="redshield channel (红旗渠)", description="The complaint canal: platforms file, the bureau watches.")
    api.install(app, service, intake)
    consumers.install(service, intake)
    service.documents(topics.CHANNEL_COMPLAINTS, ComplaintReceived)
    return service, app
