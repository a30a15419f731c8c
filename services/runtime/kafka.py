"""Kafka clients: the producer the relay and DLQ share, and the FastStream broker for subscribers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from services.runtime.metrics import registry
from services.runtime.settings import PLACEHOLDER_SECRETS, ServiceSettings, SettingsError

#: (topic, key, value, headers) of one record to produce.
OutgoingRecord = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]


class EventProducer:
    """The service's one producer, created inside the running loop at start (aiokafka needs the loop)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        if self._producer is None:
            self._producer = AIOKafkaProducer(**self.options)
            await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    @property
    def client(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("producer used before the service started")
        return self._producer

    async def send(self, topic: str, *, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]) -> Any:
        """Queue a record; returns the future of its acknowledgement."""
        return await self.client.send(topic, value=value, key=key, headers=headers)

    async def send_many(self, records: Iterable[OutgoingRecord]) -> list[asyncio.Future[Any]]:
        """Queue records in the order given; returns futures that are all done once every record is acknowledged.

        ``send()`` costs ~25 µs of Python a record (a future, the partitioner, the accumulator), most of what the
        outbox relay spends per event. Here each record goes to the partition ``send()`` would choose (aiokafka's
        default partitioner over the same metadata) and into a batch built by aiokafka's C record builder, one
        future per batch. A record too large for a batch of its own goes through ``send()``, after everything
        queued before it for that partition. Order within a partition is the order given."""
        producer = self.client
        partitioner = DefaultPartitioner()
        partitions_of: dict[str, list[int]] = {}
        open_batches: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future[Any]] = []
        for topic, key, value, headers in records:
            partitions = partitions_of.get(topic)
            if partitions is None:
                partitions = partitions_of[topic] = list(await producer.partitions_for(topic))
            partition = partitioner(key, partitions, partitions)
            batch = open_batches.get((topic, partition))
            if batch is None:
                batch = open_batches[(topic, partition)] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is not None:
                continue
            if batch.record_count():
                # The batch is full (append closed it): it goes, and a fresh one takes the record.
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = open_batches[(topic, partition)] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is not None:
                    continue
            # Too large for any batch: on its own, after everything queued before it for the partition.
            del open_batches[(topic, partition)]
            futures.append(await producer.send(topic, value=value, key=key, partition=partition, headers=headers))
        for (topic, partition), batch in open_batches.items():
            batch.close()  # nothing else may join it once submitted
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures

    async def send_and_wait(self, topic: str, *, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]) -> Any:
        return await self.client.send_and_wait(topic, value=value, key=key, headers=headers)


def client_security(settings: ServiceSettings) -> dict[str, Any]:
    """aiokafka options for the configured authentication; empty for PLAINTEXT (dev, tests)."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return {}
    if not settings.kafka_sasl_username or not settings.kafka_sasl_password:
        raise SettingsError(f"KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with {protocol}")
    if settings.kafka_sasl_password.strip().lower() in PLACEHOLDER_SECRETS or settings.kafka_sasl_password == "set-me":
        raise SettingsError("KAFKA_SASL_PASSWORD is a placeholder: set the principal's real password")
    options: dict[str, Any] = {
        "security_protocol": protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password,
    }
    if protocol == "SASL_SSL":
        options["ssl_context"] = ssl.create_default_context()
    return options


def broker_security(settings: ServiceSettings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    options = client_security(settings)
    use_ssl = protocol == "SASL_SSL"
    ssl_context = options.get("ssl_context")
    username, password = options["sasl_plain_username"], options["sasl_plain_password"]
    mechanism = settings.kafka_sasl_mechanism.upper()
    if mechanism == "SCRAM-SHA-512":
        return SASLScram512(username, password, use_ssl=use_ssl, ssl_context=ssl_context)
    if mechanism == "SCRAM-SHA-256":
        return SASLScram256(username, password, use_ssl=use_ssl, ssl_context=ssl_context)
    if mechanism == "PLAIN":
        return SASLPlaintext(username, password, use_ssl=use_ssl, ssl_context=ssl_context)
    raise SettingsError(f"unsupported KAFKA_SASL_MECHANISM {mechanism}")


def new_producer(settings: ServiceSettings, **overrides: Any) -> EventProducer:
    """Every event leaves through a producer with acks=all and idempotence: no loss, no reordering on retry."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": f"redshield-{settings.service}",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "compression_type": None,
        "request_timeout_ms": 30_000,
        **client_security(settings),
    }
    options.update(overrides)
    return EventProducer(options)


def new_broker(settings: ServiceSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"redshield-{settings.service}",
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms,
        acks="all",
        enable_idempotence=True,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=f"redshield-{settings.service}")],
        logger=None,
        security=broker_security(settings),
    )
