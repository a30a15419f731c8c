"""A submission's store events go to the outbox as bundles (services/runtime/bundles.py) of at most
``BUNDLE_EVENTS`` events, each event once with an id of its own, and reach the topic one by one. On SQLite the
applier's whole-submission statements are cut into bundles; on PostgreSQL each staged batch is one."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from contracts import topics
from contracts.envelope import from_record
from services.bridge import apply
from services.runtime.tables import outbox
from tests.bridge.conftest import ndjson, outbox_events, query, settled, store_row, submit
from tests.harness import Running, read_topic


async def test_store_events_are_bundled_a_few_a_row_and_published_one_by_one(small_batches: Running, monkeypatch: pytest.MonkeyPatch,
                                                                              kafka_bootstrap: str, prefix: str) -> None:
    monkeypatch.setattr(apply, "BUNDLE_EVENTS", 7)
    svc = small_batches
    first = await settled(svc, (await submit(svc, ndjson([store_row(n) for n in range(120)]))).json()["submission_id"])
    changed = ndjson([store_row(n, category="服装" if n % 4 == 0 else "食品") for n in range(20, 160)])
    second = await settled(svc, (await submit(svc, changed, period="2026H2")).json()["submission_id"])
    expected = Counter({"registered": first["registered"] + second["registered"], "updated": second["updated"],
                        "closed": second["closed"]})
    assert expected == Counter({"registered": 160, "updated": 25, "closed": 20})

    sizes = [r["bundle"] for r in await query(svc, sa.select(outbox.c.bundle).where(outbox.c.bundle.is_not(None)))]
    assert all(1 <= size <= 7 for size in sizes) and sum(sizes) == sum(expected.values())
    events = [e for e in await outbox_events(svc) if ".store." in e.type]
    assert Counter(e.type.split(".")[3] for e in events) == expected
    assert len({e.id for e in events}) == len(events)

    (total,) = await query(svc, sa.select(sa.func.sum(sa.func.coalesce(outbox.c.bundle, 1)).label("n"))
                           .where(outbox.c.topic == topics.BRIDGE_SUBJECTS))
    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, int(total["n"]))
    published = [(r.key, from_record(r.key, r.value, r.headers)) for r in records]
    stores = [(key, e) for key, e in published if ".store." in e.type]
    assert sorted(e.id for _, e in stores) == sorted(e.id for e in events)
    assert all(key == e.subject.encode() and key.startswith(b"P001/S") for key, e in stores)
