"""channel's HTTP edge: platforms file complaints; bad input gets RFC 9457 problems; tenants are isolated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from services.channel.store import complaints
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Running, running

PROBLEM = "application/problem+json"


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database) as svc:
        yield svc


async def test_a_platform_files_a_complaint_and_the_same_item_again_gets_the_same_id(channel: Running) -> None:
    headers = channel.auth("platform", platform="P001")
    first = await channel.http.post("/v1/complaints", json=filing("A-1"), headers=headers)
    events_of_one_filing = await _outbox_rows(channel)
    second = await channel.http.post("/v1/complaints", json=filing("A-1"), headers=headers)
    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    assert second.status_code == 202
    assert second.json() == first.json() | {"duplicate": True}  # the same id and the same receipt code
    # received and assigned, each also on the region's topic, and the assignment's copy for the platform;
    # the duplicate adds nothing.
    assert events_of_one_filing == 5
    assert await _outbox_rows(channel) == events_of_one_filing


async def test_concurrent_filings_each_get_their_own_answer_and_the_same_item_twice_at_once_is_one_item(channel: Running) -> None:
    import asyncio

    p1, p2 = channel.auth("platform", platform="P001"), channel.auth("platform", platform="P002")
    posts = [channel.http.post("/v1/complaints", json=filing(f"C-{n}"), headers=p1 if n % 2 else p2) for n in range(40)]
    # The same item from the same platform twice, in the same burst: one item, one of the answers says duplicate.
    posts += [channel.http.post("/v1/complaints", json=filing("C-same"), headers=p1) for _ in range(2)]
    posts.append(channel.http.post("/v1/complaints", json=filing("C-bad") | {"received_at": "2099-01-01T00:00:00+08:00"}, headers=p1))
    answers = await asyncio.gather(*posts)
    assert [a.status_code for a in answers] == [202] * 42 + [422]
    bodies = [a.json() for a in answers[:42]]
    assert len({b["complaint_id"] for b in bodies[:40]}) == 40
    same = bodies[40:]
    assert same[0]["complaint_id"] == same[1]["complaint_id"] and sorted(b["duplicate"] for b in same) == [False, True]
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        stored = (await conn.execute(sa.select(complaints.c.platform_complaint_id))).scalars().all()
    assert sorted(stored) == sorted([f"C-{n}" for n in range(40)] + ["C-same"])  # committed before their 202


async def test_attachments_are_kept_by_digest_and_size_and_travel_in_the_received_event(channel: Running) -> None:
    from services.runtime.tables import outbox

    photo = {"sha256": "9f" * 32, "size_bytes": 482113, "media_type": "image/jpeg"}
    answer = await channel.http.post("/v1/complaints", json=filing("ATT-1") | {"attachments": [photo]},
                                     headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 202, answer.text
    complaint_id = answer.json()["complaint_id"]
    seen = await channel.http.get(f"/v1/complaints/{complaint_id}", headers=channel.auth("regulator"))
    assert seen.json()["attachments"] == [photo]
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        values = (await conn.execute(sa.select(outbox.c.value).where(outbox.c.topic == "channel.complaints.v1"))).scalars().all()
    received = [v for v in values if b'"platform_complaint_id":"ATT-1"' in v and b'"intake":' in v]
    assert len(received) == 1 and b'"attachments":[{"sha256":"' + b"9f" * 32 + b'","size_bytes":482113' in received[0]


async def _outbox_rows(channel: Running) -> int:
    """Every event the service committed, sent or not (sent rows are kept a day)."""
    from services.runtime.tables import outbox

    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar_one())


async def test_two_platforms_may_use_the_same_item_id(channel: Running) -> None:
    a = await channel.http.post("/v1/complaints", json=filing("X-1"), headers=channel.auth("platform", platform="P001"))
    b = await channel.http.post("/v1/complaints", json=filing("X-1"), headers=channel.auth("platform", platform="P002"))
    assert a.json()["complaint_id"] != b.json()["complaint_id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "praise"}, "kind"),
        ({"received_at": "2026-11-20T09:30:00"}, "received_at"),
        ({"category": "weather"}, "category"),
        ({"description": "字" * 5001}, "description"),
        ({"order": {"amount": "12.345", "goods_category": "食品"}}, "order.amount"),
        ({"merchant": {"store_id": "S", "store_name": "店", "region": "33010"}}, "merchant.region"),
        ({"surprise": 1}, "surprise"),
        ({"attachments": [{"sha256": "ABC", "size_bytes": 10, "media_type": "image/jpeg"}]}, "attachments.0.sha256"),
        ({"attachments": [{"sha256": "a" * 64, "size_bytes": 0, "media_type": "image/jpeg"}]}, "attachments.0.size_bytes"),
        ({"attachments": [{"sha256": "a" * 64, "size_bytes": 9, "media_type": "image/jpeg"}] * 21}, "attachments"),
    ],
)
async def test_a_wrong_field_is_a_422_problem_naming_the_field(channel: Running, change: dict[str, Any], field: str) -> None:
    answer = await channel.http.post("/v1/complaints", json=filing("B-1", **change), headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert body["status"] == 422
    assert field in [e["field"] for e in body["errors"]]


async def test_a_complaint_received_in_the_future_is_refused(channel: Running) -> None:
    answer = await channel.http.post("/v1/complaints", json=filing("F-1", received_at="2099-01-01T00:00:00+08:00"),
                                     headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("received-in-future")


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-jwt", "Basic dXNlcjpwdw=="])
async def test_a_missing_or_bad_token_is_401(channel: Running, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = await channel.http.post("/v1/complaints", json=filing("C-1"), headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith(PROBLEM)


async def test_a_token_signed_with_another_key_is_401(channel: Running) -> None:
    from services.runtime.auth import Role, issue

    forged = issue("some-other-key-of-sufficient-length-000000", role=Role.PLATFORM, subject="x", platform_id="P001")
    answer = await channel.http.post("/v1/complaints", json=filing("C-2"), headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401


async def test_only_platforms_file_complaints(channel: Running) -> None:
    answer = await channel.http.post("/v1/complaints", json=filing("C-3"), headers=channel.auth("regulator"))
    assert answer.status_code == 403


async def test_a_platform_sees_its_own_complaint_and_another_platform_gets_404(channel: Running) -> None:
    created = await channel.http.post("/v1/complaints", json=filing("D-1"), headers=channel.auth("platform", platform="P001"))
    complaint_id = created.json()["complaint_id"]
    own = await channel.http.get(f"/v1/complaints/{complaint_id}", headers=channel.auth("platform", platform="P001"))
    other = await channel.http.get(f"/v1/complaints/{complaint_id}", headers=channel.auth("platform", platform="P002"))
    regulator = await channel.http.get(f"/v1/complaints/{complaint_id}", headers=channel.auth("regulator"))
    missing = await channel.http.get("/v1/complaints/no-such-id", headers=channel.auth("platform", platform="P001"))
    assert own.status_code == 200 and own.json()["platform_complaint_id"] == "D-1"
    assert other.status_code == 404 and other.json() == missing.json() | {"detail": other.json()["detail"]}
    assert regulator.status_code == 200
    assert not any(key.startswith("consumer_") for key in own.json())


async def test_personal_data_is_encrypted_at_rest(channel: Running) -> None:
    await channel.http.post("/v1/complaints", json=filing("E-1"), headers=channel.auth("platform", platform="P001"))
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        row = (await conn.execute(sa.select(complaints).where(complaints.c.platform_complaint_id == "E-1"))).one()
    assert b"13800000000" not in row.consumer_phone_enc and "张三".encode() not in row.consumer_name_enc
    assert len(row.consumer_hash) == 64


async def test_a_body_over_one_megabyte_is_413(channel: Running) -> None:
    big = b'{"description": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    answer = await channel.http.post("/v1/complaints", content=big, headers={**channel.auth("platform", platform="P001"), "content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith(PROBLEM)
