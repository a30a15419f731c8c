"""Receipt codes, and the consumer's side over HTTP: look an item up with no account, confirm or dispute a
settlement; a wrong code tells nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import sqlalchemy as sa

from services.channel import receipts
from services.channel.store import audit, complaints
from services.runtime.calendar import CHINA_TIME
from services.runtime.clock import FixedClock
from tests.channel.test_first_handling import published
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Running, running

KEY = b"k" * 32
PROBLEM = "application/problem+json"


# -- the code itself -----------------------------------------------------------------------------------------
def test_a_code_is_twelve_crockford_characters_in_three_groups_and_the_same_for_the_same_item() -> None:
    code = receipts.receipt_code(KEY, "019a9c4e-5a00-7000-8000-000000000001")
    groups = code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4]
    assert set("".join(groups)) <= set(receipts.ALPHABET)
    assert receipts.receipt_code(KEY, "019a9c4e-5a00-7000-8000-000000000001") == code


def test_codes_differ_by_item_and_by_key() -> None:
    ids = [f"019a9c4e-5a00-7000-8000-{n:012d}" for n in range(2000)]
    assert len({receipts.receipt_code(KEY, i) for i in ids}) == len(ids)
    assert receipts.receipt_code(KEY, ids[0]) != receipts.receipt_code(b"x" * 32, ids[0])


def test_a_code_is_read_the_way_people_type_it() -> None:
    code = receipts.receipt_code(KEY, "some-id")
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert receipts.normalise(typed) == code.replace("-", "")
    assert receipts.matches(KEY, "some-id", typed)
    assert receipts.lookup_hash(KEY, typed) == receipts.lookup_hash(KEY, code)


@pytest.mark.parametrize("typed", ["", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JKMU", "ABCD/EFGH/JKMN"])
def test_what_is_not_a_code_is_recognised_as_such(typed: str) -> None:
    assert receipts.normalise(typed) is None
    assert not receipts.matches(KEY, "some-id", typed)


def test_the_database_keeps_a_keyed_hash_not_the_code() -> None:
    code = receipts.receipt_code(KEY, "some-id")
    kept = receipts.lookup_hash(KEY, code)
    assert len(kept) == 64 and code.replace("-", "") not in kept
    assert kept != receipts.lookup_hash(b"y" * 32, code)


# -- over HTTP -----------------------------------------------------------------------------------------------
FILED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA_TIME)


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=FixedClock(FILED_AT)) as svc:
        yield svc


async def file(channel: Running, pcid: str, **changes: object) -> dict[str, str]:
    answer = await channel.http.post("/v1/complaints", json=filing(pcid, **changes), headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


async def test_the_consumer_sees_state_kind_deadline_and_public_history_and_no_personal_data(channel: Running) -> None:
    filed = await file(channel, "R-1")
    view = await channel.http.get(f"/v1/receipts/{filed['receipt_code']}")
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["state"] == "assigned_to_platform" and body["kind"] == "complaint"
    assert body["deadline"] == {"kind": "first_handling", "due": "2026-12-04", "provisional": False}
    assert [(h["event"], h["from_state"], h["to_state"], h["by"]) for h in body["history"]] == [
        ("assigned", "received", "assigned_to_platform", "system")]
    # Without the code itself: it is random, and may hold "S-1" or "P001" by chance ("ZK6S-1QTK-…" did).
    text = view.text.replace(filed["receipt_code"], "")
    for private in ("张三", "13800000000", "consumer", "platform_id", "P001", "S-1", filed["complaint_id"]):
        assert private not in text


async def test_the_code_works_typed_loosely(channel: Running) -> None:
    code = (await file(channel, "R-2"))["receipt_code"]
    assert (await channel.http.get(f"/v1/receipts/{code.lower().replace('-', '')}")).status_code == 200


@pytest.mark.parametrize("code", ["0000-0000-0000", "not-a-code", "ZZZZ"])
async def test_a_wrong_code_is_a_404_problem(channel: Running, code: str) -> None:
    await file(channel, "R-3")
    answer = await channel.http.get(f"/v1/receipts/{code}")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["type"].endswith("/unknown-receipt")


async def test_the_platform_sees_the_receipt_code_of_its_item(channel: Running) -> None:
    filed = await file(channel, "R-4")
    own = await channel.http.get(f"/v1/complaints/{filed['complaint_id']}", headers=channel.auth("platform", platform="P001"))
    listed = await channel.http.get("/v1/platform/complaints", headers=channel.auth("platform", platform="P001"))
    assert own.json()["receipt_code"] == filed["receipt_code"]
    assert listed.json()["items"][0]["receipt_code"] == filed["receipt_code"]
    assert "receipt_hash" not in own.json()


async def _settled(channel: Running, pcid: str) -> dict[str, str]:
    filed = await file(channel, pcid)
    answer = await channel.http.post(f"/v1/complaints/{filed['complaint_id']}/answer", json={"outcome": "settled", "refund_amount": "299"},
                                     headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 200, answer.text
    return filed


async def test_the_consumer_confirms_a_settlement_and_the_item_is_closed(channel: Running) -> None:
    filed = await _settled(channel, "C-1")
    answer = await channel.http.post(f"/v1/receipts/{filed['receipt_code']}/settlement", json={"agree": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "closed"
    (closed,) = await published(channel, "redshield.channel.complaint.closed.v1", filed["complaint_id"])
    assert closed["data"]["by"] == "consumer" and closed["data"]["outcome"] == "settled_by_platform"
    trail = await _audit(channel, filed["complaint_id"])
    assert trail[-1] == ("consumer", "platform_settled", "closed")
    view = (await channel.http.get(f"/v1/receipts/{filed['receipt_code']}")).json()
    assert view["state"] == "closed" and view["history"][-1]["by"] == "consumer"


async def test_the_consumer_disagrees_and_the_bureau_takes_it_with_its_acceptance_deadline(channel: Running) -> None:
    filed = await _settled(channel, "C-2")
    answer = await channel.http.post(f"/v1/receipts/{filed['receipt_code']}/settlement", json={"agree": False})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "awaiting_acceptance"
    assert answer.json()["deadline"]["kind"] == "acceptance"
    (referred,) = await published(channel, "redshield.channel.complaint.referred.v1", filed["complaint_id"])
    assert referred["data"]["reason"] == "consumer_disagreed" and referred["data"]["by"] == "consumer"
    assert (await _audit(channel, filed["complaint_id"]))[-1] == ("consumer", "platform_settled", "awaiting_acceptance")


async def test_a_settlement_answer_on_an_unsettled_item_is_a_409_naming_both_states(channel: Running) -> None:
    filed = await file(channel, "C-3")
    answer = await channel.http.post(f"/v1/receipts/{filed['receipt_code']}/settlement", json={"agree": True})
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["state"] == "assigned_to_platform" and answer.json()["target_state"] == "closed"
    again = await channel.http.post(f"/v1/receipts/{filed['receipt_code']}/settlement", json={"agree": False})
    assert again.json()["target_state"] == "awaiting_acceptance"


async def test_a_settlement_answer_twice_is_a_409_and_a_wrong_code_a_404(channel: Running) -> None:
    filed = await _settled(channel, "C-4")
    first = await channel.http.post(f"/v1/receipts/{filed['receipt_code']}/settlement", json={"agree": True})
    second = await channel.http.post(f"/v1/receipts/{filed['receipt_code']}/settlement", json={"agree": False})
    wrong = await channel.http.post("/v1/receipts/0000-0000-0000/settlement", json={"agree": True})
    bad = await channel.http.post(f"/v1/receipts/{filed['receipt_code']}/settlement", json={"agree": "maybe"})
    assert first.status_code == 200 and second.status_code == 409 and second.json()["state"] == "closed"
    assert wrong.status_code == 404
    assert bad.status_code == 422 and "agree" in [e["field"] for e in bad.json()["errors"]]


async def _audit(channel: Running, complaint_id: str) -> list[tuple[str, str, str]]:
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        rows = await conn.execute(sa.select(audit.c.actor_role, audit.c.from_state, audit.c.to_state)
                                  .where(audit.c.complaint_id == complaint_id).order_by(audit.c.seq))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_only_a_hash_of_the_code_is_stored(channel: Running) -> None:
    filed = await file(channel, "H-1")
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        row = (await conn.execute(sa.select(complaints).where(complaints.c.complaint_id == filed["complaint_id"]))).one()
    stored = " ".join(str(v) for v in row)
    assert filed["receipt_code"] not in stored and filed["receipt_code"].replace("-", "") not in stored
    assert len(row.receipt_hash) == 64
