"""On PostgreSQL a submission is applied as it is staged, in one transaction committed at the file's end: the upload
answers ``applied``, and the stores, counts and events are those the applier makes of the same file once staged.
Where that could change the order of a platform's submissions it steps aside and the applier applies them in the
order they were staged. (A broken upload and a killed process apply nothing either way: test_submissions.py and
test_process_kill.py run on both databases.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.bridge.conftest import ndjson, outbox_events, register, settled, store_row, submit
from tests.bridge.test_submissions import store_state
from tests.harness import Running, running

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database", ["postgresql"], indirect=True)]


@pytest.fixture
async def small_batches(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None],
                        monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    monkeypatch.setenv("REDSHIELD_BRIDGE_SUBMISSION_BATCH_ROWS", "40")
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database) as svc:
        await register(svc)
        await register(svc, platform_id="P002")
        yield svc


def receiver(svc: Running) -> Any:
    _, receiving, _ = svc.app.state.bridge
    return receiving


async def events_of(svc: Running, platform: str) -> list[tuple[str, str]]:
    """(type, subject without the platform) of every store event the platform's submissions wrote, in outbox order."""
    return [(e.type, e.subject.removeprefix(platform + "/")) for e in await outbox_events(svc)
            if e.platformid == platform and ".store." in e.type]


async def test_a_file_is_applied_as_it_is_staged_and_ends_where_the_applier_would_have_taken_it(small_batches: Running) -> None:
    svc = small_batches
    first = ndjson([store_row(n) for n in range(150)])
    second = ndjson([store_row(n, category="服装" if n % 7 == 0 else "食品") for n in range(60, 300)])
    # The stores the second file closed come back: registered again over their closed rows (the upsert's way, where
    # stores never seen before are inserted plainly).
    third = ndjson([store_row(n) for n in range(0, 60)] + [store_row(n, category="服装" if n % 7 == 0 else "食品") for n in range(60, 300)])
    files = ((first, "2026H1"), (second, "2026H2"), (third, "2027H1"))
    counts = ("registered", "updated", "closed", "unchanged")

    streamed = []
    for body, period in files:
        answer = await submit(svc, body, platform="P001", period=period)
        assert answer.status_code == 202, answer.text
        # Applied by the time the upload is answered: nothing waits for the applier.
        assert answer.json()["state"] == "applied"
        streamed.append(answer.json())

    # The same files for P002, with applying-as-staged switched off: staged, then applied by the applier.
    receiver(svc).apply_while_staged = None
    staged = []
    for body, period in files:
        answer = await submit(svc, body, platform="P002", period=period)
        assert answer.json()["state"] == "staged"
        staged.append(await settled(svc, answer.json()["submission_id"], "P002"))

    assert [[s[k] for k in counts] for s in streamed] == [[s[k] for k in counts] for s in staged] == [[150, 0, 0, 0], [150, 13, 60, 77],
                                                                                                 [60, 0, 0, 240]]
    assert await store_state(svc, "P001") == await store_state(svc, "P002")
    assert sorted(await events_of(svc, "P001")) == sorted(await events_of(svc, "P002"))
    assert len(await events_of(svc, "P001")) == 150 + 150 + 13 + 60 + 60


#: The applier's pass interval (Applier.poll_interval).
POLL_S = 2.0


async def settled_or_none(svc: Running, submission_id: str) -> str | None:
    answer = (await svc.http.get(f"/v1/submissions/{submission_id}", headers=svc.auth("platform", platform="P001"))).json()
    return None if answer["state"] in ("receiving", "staged") else str(answer["state"])


def slowly(body: bytes, release: asyncio.Event) -> AsyncIterator[bytes]:
    """An upload that sends half its body, waits for ``release``, then sends the rest."""

    async def chunks() -> AsyncIterator[bytes]:
        half = len(body) // 2
        yield body[:half]
        await release.wait()
        yield body[half:]

    return chunks()


async def test_a_submission_staged_while_another_streams_in_is_applied_first_as_staged_order_says(
        small_batches: Running, caplog: pytest.LogCaptureFixture) -> None:
    svc = small_batches
    caplog.set_level(logging.INFO, logger="redshield.bridge.apply")
    long_file = ndjson([store_row(n, category="服装") for n in range(200)])
    short_file = ndjson([store_row(n) for n in range(50)])
    release = asyncio.Event()
    headers = svc.auth("platform", platform="P001") | {"content-type": "application/x-ndjson"}
    long_upload = asyncio.create_task(svc.http.post("/v1/platforms/P001/submissions", params={"format": "ndjson", "period": "2026H1"},
                                                    content=slowly(long_file, release), headers=headers))
    # Wait until the long upload has staged (and applied, uncommitted) its first batches.
    for _ in range(200):
        listed = (await svc.http.get("/v1/platforms/P001/submissions", headers=svc.auth("regulator"))).json()["submissions"]
        if listed and listed[0]["rows_staged"] >= 40:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the long upload staged nothing")

    # The short one arrives while the long one streams: staged (it cannot apply while the platform is being applied
    # to), and the applier leaves it for later instead of waiting on the lock.
    short = await submit(svc, short_file, platform="P001", period="2026H1")
    assert short.json()["state"] == "staged"
    await asyncio.sleep(3 * POLL_S)  # the applier's passes find the platform busy
    assert any("platform P001 is being applied to" in r.getMessage() for r in caplog.records)
    assert (await settled_or_none(svc, short.json()["submission_id"])) is None
    release.set()
    long_answer = await long_upload
    # Staged after the short one, so it must apply after it: it steps aside and is staged too.
    assert long_answer.status_code == 202 and long_answer.json()["state"] == "staged"

    long_done = await settled(svc, long_answer.json()["submission_id"])
    short_done = await settled(svc, short.json()["submission_id"])
    assert short_done["applied_at"] < long_done["applied_at"]
    # The file staged last decides: 200 stores, all of them 服装.
    assert {v[3] for v in (await store_state(svc, "P001")).values()} == {"服装"}
    assert len(await store_state(svc, "P001")) == 200
