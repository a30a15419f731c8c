"""Creating the topics bridge is responsible for (the province's, each platform's feed), idempotently."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.runtime.kafka import client_security
from services.runtime.settings import ServiceSettings


class TopicNotCreated(RuntimeError):
    pass


async def ensure_topics(settings: ServiceSettings, names: Sequence[str], *, partitions: int = 3,
                        timeout_ms: int = 10_000) -> list[str]:
    """Create the (prefixed) topics not there yet; returns those this call created. Raises when Kafka cannot be reached."""
    wanted = [settings.topic_prefix + name for name in dict.fromkeys(names)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, client_id=f"redshield-{settings.service}-admin",
                                request_timeout_ms=timeout_ms, **client_security(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return []
        answer = await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing])
        created = []
        for name, code, *_ in answer.topic_errors:
            # Already there: another bridge process created it between our listing and our request; the goal is met.
            if code == TopicAlreadyExistsError.errno:
                continue
            if code != 0:
                raise TopicNotCreated(f"Kafka refused to create {name}: error {code}")
            created.append(name)
        return created
    finally:
        await admin.close()
