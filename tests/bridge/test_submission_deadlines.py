"""Late or missing semi-annual submissions: the view by period, and one missed event per platform and period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from contracts import topics
from contracts.envelope import from_record
from services.bridge.store import audit
from services.runtime.clock import FixedClock
from tests.bridge.conftest import CHINA, ndjson, register, settled, store_row, submit
from tests.harness import Running, read_topic


async def view(svc: Running, period: str | None = None, **scope: str) -> dict[str, Any]:
    role = "platform" if scope else "regulator"
    answer = await svc.http.get("/v1/submission-deadlines", params={"period": period} if period else {}, headers=svc.auth(role, **scope))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_missing_platforms_are_noted_once_when_the_july_window_closes_and_a_late_one_shows_as_late(
        bridge_on_clock: Running, clock: FixedClock, kafka_bootstrap: str, prefix: str) -> None:
    svc = bridge_on_clock
    clock.advance(datetime(2026, 7, 20, 10, tzinfo=CHINA).astimezone(UTC) - clock.now())
    for platform in ("P001", "P002", "P003"):
        await register(svc, platform_id=platform)
    await settled(svc, (await submit(svc, ndjson([store_row(1)]), period="2026H2")).json()["submission_id"])
    before = await view(svc)
    assert (before["period"], before["deadline"]) == ("2026H2", "2026-08-01T00:00:00+08:00")
    assert {p["platform_id"]: p["standing"] for p in before["platforms"]} == {"P001": "on_time", "P002": "pending", "P003": "pending"}

    watch = svc.app.state.watch
    clock.advance(datetime(2026, 8, 1, 0, 0, 5, tzinfo=CHINA).astimezone(UTC) - clock.now())
    assert (await watch.tick()).submissions_missed == 2
    assert (await watch.tick()).submissions_missed == 0
    await settled(svc, (await submit(svc, ndjson([store_row(2)]), platform="P002", period="2026H2")).json()["submission_id"], "P002")
    clock.advance(timedelta(days=40))
    assert (await watch.tick()).submissions_missed == 0

    after = await view(svc, "2026H2")
    assert {p["platform_id"]: p["standing"] for p in after["platforms"]} == {"P001": "on_time", "P002": "late", "P003": "missing"}
    assert after["counts"] == {"on_time": 1, "late": 1, "missing": 1, "pending": 0, "not_due": 0}
    assert [p["missed_noted_at"] is not None for p in after["platforms"]] == [False, True, True]
    own = await view(svc, "2026H2", platform="P003")
    assert [p["platform_id"] for p in own["platforms"]] == ["P003"]

    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 3 + 2 + 2 + 2)
    missed = sorted(e.data["platform_id"] for e in (from_record(r.key, r.value, r.headers) for r in records)
                    if e.type == "redshield.bridge.submission.missed.v1")
    assert missed == ["P002", "P003"]
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        notes = (await conn.execute(sa.select(audit.c.actor, audit.c.target).where(audit.c.action == "submission.missed"))).all()
    assert sorted(notes) == [("system:bridge", "platform:P002"), ("system:bridge", "platform:P003")]


async def test_a_platform_registered_after_the_deadline_is_not_due_for_that_period(bridge_on_clock: Running, clock: FixedClock) -> None:
    svc = bridge_on_clock
    clock.advance(datetime(2026, 2, 10, 9, tzinfo=CHINA).astimezone(UTC) - clock.now())
    await register(svc)
    assert (await svc.app.state.watch.tick()).submissions_missed == 0
    assert [p["standing"] for p in (await view(svc, "2026H1"))["platforms"]] == ["not_due"]
