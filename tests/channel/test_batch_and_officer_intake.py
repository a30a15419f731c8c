"""Batch intake (up to 1,000 filings, one result each, one transaction) and the officers' intake for the bureau's
own channels (hotline, counter, 12315), through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from services.channel.store import complaints
from services.runtime.calendar import CHINA_TIME
from services.runtime.clock import FixedClock
from tests.channel.test_first_handling import published
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Running, running

FILED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA_TIME)
PROBLEM = "application/problem+json"


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=FixedClock(FILED_AT)) as svc:
        yield svc


async def count(channel: Running, *where: Any) -> int:
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(complaints).where(*where))).scalar_one())


def consumer(n: int) -> dict[str, str]:
    # Different consumers, so a large batch is not itself a bulk filing.
    return {"name": f"顾客{n}", "phone": f"139{n:08d}"}


# -- batch -----------------------------------------------------------------------------------------------------
async def test_a_batch_answers_one_result_per_filing_in_order(channel: Running) -> None:
    headers = channel.auth("platform", platform="P001")
    earlier = await channel.http.post("/v1/complaints", json=filing("B-0", consumer=consumer(0)), headers=headers)
    batch = [
        filing("B-1", consumer=consumer(1)),
        filing("B-0", consumer=consumer(0)),  # filed before
        filing("B-2", kind="praise", consumer=consumer(2)),  # bad schema
        filing("B-3", received_at="2099-01-01T00:00:00+08:00", consumer=consumer(3)),  # from the future
        filing("B-4", kind="report", consumer=consumer(4)),
        filing("B-1", consumer=consumer(1)),  # twice in the same batch
    ]
    answer = await channel.http.post("/v1/complaints/batch", json={"filings": batch}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    results = body["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == ["created", "duplicate", "rejected", "rejected", "created", "duplicate"]
    assert results[1]["complaint_id"] == earlier.json()["complaint_id"]
    assert results[5]["complaint_id"] == results[0]["complaint_id"]
    assert results[2]["problem"]["status"] == 422 and "kind" in [e["field"] for e in results[2]["problem"]["errors"]]
    assert results[3]["problem"]["type"].endswith("/received-in-future")
    assert results[4]["kind"] == "report" and results[0]["receipt_code"] != results[4]["receipt_code"]
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 2, 2)
    assert await count(channel, complaints.c.platform_id == "P001") == 3


async def test_a_thousand_filings_go_in_and_a_thousand_and_one_are_refused_whole(channel: Running) -> None:
    headers = channel.auth("platform", platform="P001")
    too_many = [filing(f"M-{n}", consumer=consumer(n)) for n in range(1001)]
    refused = await channel.http.post("/v1/complaints/batch", json={"filings": too_many}, headers=headers)
    assert refused.status_code in (413, 422)
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert await count(channel) == 0
    # Short descriptions keep 1,000 filings under the 1 MiB body limit.
    thousand = [filing(f"M-{n}", consumer=consumer(n), description="少发货") for n in range(1000)]
    answer = await channel.http.post("/v1/complaints/batch", json={"filings": thousand}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 1000
    assert await count(channel) == 1000
    again = await channel.http.post("/v1/complaints/batch", json={"filings": thousand[:10]}, headers=headers)
    assert again.json()["duplicates"] == 10


async def test_a_batch_is_for_platforms_and_its_items_are_the_callers(channel: Running) -> None:
    body = {"filings": [filing("P-1")]}
    assert (await channel.http.post("/v1/complaints/batch", json=body, headers=channel.auth("regulator"))).status_code == 403
    assert (await channel.http.post("/v1/complaints/batch", json=body, headers=channel.auth("bureau", region="330100"))).status_code == 403
    await channel.http.post("/v1/complaints/batch", json=body, headers=channel.auth("platform", platform="P002"))
    assert await count(channel, complaints.c.platform_id == "P002") == 1


# -- the officer's intake ------------------------------------------------------------------------------------
def officer_filing(intake_id: str, source: str = "hotline", **changes: Any) -> dict[str, Any]:
    body = filing("unused", **changes)
    del body["platform_complaint_id"]
    return {"intake_id": intake_id, "source_channel": source, "platform_id": "P001", **body}


@pytest.mark.parametrize("source", ["hotline", "counter", "12315"])
async def test_an_officer_files_from_the_bureaus_own_channels(channel: Running, source: str) -> None:
    answer = await channel.http.post("/v1/bureau/intake", json=officer_filing("HZ-1", source), headers=channel.auth("bureau", region="330100"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["duplicate"] is False and body["receipt_code"] and body["intake_id"] == "HZ-1"
    (received,) = await published(channel, "redshield.channel.complaint.received.v1", body["complaint_id"])
    assert received["data"]["intake"] == source
    # A complaint about a merchant on a connected platform still goes to the platform first.
    (assigned,) = await published(channel, "redshield.channel.complaint.assigned.v1", body["complaint_id"])
    assert assigned["data"]["state"] == "assigned_to_platform"


async def test_the_same_intake_id_again_answers_the_same_item(channel: Running) -> None:
    headers = channel.auth("bureau", region="330100")
    first = await channel.http.post("/v1/bureau/intake", json=officer_filing("HZ-2"), headers=headers)
    second = await channel.http.post("/v1/bureau/intake", json=officer_filing("HZ-2", "counter"), headers=headers)
    assert second.status_code == 202
    assert second.json() == first.json() | {"duplicate": True}
    assert await count(channel) == 1


async def test_the_item_gets_the_bureaus_region_unless_jurisdiction_names_another(channel: Running) -> None:
    headers = channel.auth("bureau", region="330108")
    no_address = officer_filing("HZ-3", merchant={"store_id": "S-9", "store_name": "某店"})
    published_address = officer_filing("HZ-4")  # the merchant publishes 330106
    a = (await channel.http.post("/v1/bureau/intake", json=no_address, headers=headers)).json()["complaint_id"]
    b = (await channel.http.post("/v1/bureau/intake", json=published_address, headers=headers)).json()["complaint_id"]
    assert await count(channel, complaints.c.complaint_id == a, complaints.c.region == "330108") == 1
    assert await count(channel, complaints.c.complaint_id == b, complaints.c.region == "330106") == 1


async def test_platform_tokens_get_403_and_a_bad_source_is_a_422_naming_it(channel: Running) -> None:
    forbidden = await channel.http.post("/v1/bureau/intake", json=officer_filing("HZ-5"), headers=channel.auth("platform", platform="P001"))
    assert forbidden.status_code == 403 and forbidden.headers["content-type"].startswith(PROBLEM)
    bad = await channel.http.post("/v1/bureau/intake", json=officer_filing("HZ-6", "email"), headers=channel.auth("bureau", region="330100"))
    assert bad.status_code == 422 and "source_channel" in [e["field"] for e in bad.json()["errors"]]
