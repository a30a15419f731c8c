"""An interrupted upload goes on from the line it stopped at and ends where one uninterrupted upload would; a part that
is not the file's rest, a wrong line, another's submission or an expired one is refused before anything is staged."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from services.bridge.store import audit, staged_stores
from tests.bridge.conftest import broken, ndjson, query, register, settled, store_row, store_state, store_uscc, submit
from tests.harness import Running, eventually, running

PROBLEM = "application/problem+json"
COUNTS = ("state", "rows_total", "rows_staged", "rows_refused", "rows_flagged", "registered", "updated", "closed", "unchanged")


async def findings_of(svc: Running, submission_id: str, platform: str) -> list[tuple[int, str, str | None]]:
    report = await svc.http.get(f"/v1/submissions/{submission_id}/errors", headers=svc.auth("platform", platform=platform))
    return [(f["line"], f["code"], f["store_id"]) for f in report.json()["findings"]]


def headers(svc: Running, platform: str, content_type: str) -> dict[str, str]:
    return svc.auth("platform", platform=platform) | {"content-type": content_type}


async def break_off(svc: Running, body: bytes, *, fmt: str, content_type: str, platform: str = "P001") -> dict[str, Any]:
    """Upload ``body`` with a connection that drops halfway; the submission it left, as its owner sees it."""
    with contextlib.suppress(Exception):
        answer = await svc.http.post(f"/v1/platforms/{platform}/submissions", params={"format": fmt, "period": "2026H1"},
                                     content=broken(body, len(body) // 2), headers=headers(svc, platform, content_type))
        assert answer.status_code >= 400
    (attempt,) = (await svc.http.get(f"/v1/platforms/{platform}/submissions", headers=svc.auth("regulator"))).json()["submissions"][:1]
    return dict(attempt)


def rest(body: bytes, from_line: int) -> bytes:
    """The file from line ``from_line`` on (lines counted as the platform's own tools count them: by newline)."""
    return b"\n".join(body.split(b"\n")[from_line - 1 :])


async def resume(svc: Running, submission_id: str, body: bytes, from_line: int, *, content_type: str, platform: str = "P001") -> Any:
    return await svc.http.patch(f"/v1/submissions/{submission_id}", params={"from_line": from_line}, content=body,
                                headers=headers(svc, platform, content_type))


async def test_an_ndjson_upload_resumed_from_its_line_ends_where_one_uninterrupted_upload_does(small_batches: Running) -> None:
    svc = small_batches
    rows = [store_row(n, category="服装" if n % 9 == 0 else "食品") for n in range(400)]
    lines = [ndjson([row]).rstrip(b"\n") for row in rows]
    lines[30] = b'{"store_id": "S-broken", '  # not JSON
    lines[60] = ndjson([store_row(60, uscc=store_uscc(60)[:-1] + "0")]).rstrip(b"\n")  # a failing check character: flagged
    lines[350] = ndjson([store_row(20, category="服装")]).rstrip(b"\n")  # S000020 again, after the break: the first stands
    lines.insert(200, b"")  # a blank line, skipped wherever it falls
    body = b"\n".join(lines) + b"\n"

    attempt = await break_off(svc, body, fmt="ndjson", content_type="application/x-ndjson")
    assert attempt["state"] == "interrupted" and attempt["rows_staged"] >= 50
    assert "resume_line" in attempt["failure"] and attempt["resume_line"] > 50
    staged = len(await query(svc, sa.select(staged_stores).where(staged_stores.c.submission_id == attempt["submission_id"])))
    assert staged == attempt["rows_staged"]
    assert await store_state(svc, "P001") == {}

    resumes = REGISTRY.get_sample_value("redshield_bridge_submission_resumes_total") or 0.0
    answer = await resume(svc, attempt["submission_id"], rest(body, attempt["resume_line"]), attempt["resume_line"],
                          content_type="application/x-ndjson")
    assert answer.status_code == 202, answer.text
    assert REGISTRY.get_sample_value("redshield_bridge_submission_resumes_total") == resumes + 1
    done = await settled(svc, attempt["submission_id"])
    straight = await settled(svc, (await submit(svc, body, platform="P002")).json()["submission_id"], "P002")
    assert [done[k] for k in COUNTS] == [straight[k] for k in COUNTS] == ["applied", 400, 398, 2, 1, 398, 0, 0, 0]
    assert await findings_of(svc, done["submission_id"], "P001") == await findings_of(svc, straight["submission_id"], "P002")
    assert await store_state(svc, "P001") == await store_state(svc, "P002")
    assert (done["parts"], straight["parts"]) == (2, 1)
    assert done["content_sha256"] is None and straight["content_sha256"] is not None
    assert await query(svc, sa.select(staged_stores)) == []
    actions = [a["action"] for a in await query(svc, sa.select(audit).order_by(audit.c.id))]
    assert actions.count("submission.resumed") == 1


async def test_a_csv_upload_resumes_without_its_header_and_with_rows_that_span_lines(small_batches: Running) -> None:
    svc = small_batches
    header = "store_id,merchant_name,uscc,address,region,shop_name,shop_url,category,above_threshold\r\n"
    # Most addresses hold a newline — rows on two lines, the last one of every batch among them (batches of 50 end
    # on rows 49, 99, …) — and every fifth row is on one line. (CSV rows come to the receiver a thousand at a time: the
    # break must come after the first thousand.)
    body = (header + "".join(
        f'S{n:06d},杭州商户{n}有限公司,{store_uscc(n)},"{"文三路" + chr(10) + str(n) + "号" if n % 5 != 1 else "文三路" + str(n) + "号"}",'
        f"330106,店{n},https://shop.example.com/s/{n},食品,否\r\n" for n in range(2500))).encode()

    attempt = await break_off(svc, body, fmt="csv", content_type="text/csv")
    assert attempt["state"] == "interrupted" and attempt["resume_line"] > 2
    answer = await resume(svc, attempt["submission_id"], rest(body, attempt["resume_line"]), attempt["resume_line"],
                          content_type="text/csv")
    assert answer.status_code == 202, answer.text
    done = await settled(svc, attempt["submission_id"])
    straight = await settled(svc, (await submit(svc, body, platform="P002", fmt="csv")).json()["submission_id"], "P002")
    assert [done[k] for k in COUNTS] == [straight[k] for k in COUNTS] == ["applied", 2500, 2500, 0, 0, 2500, 0, 0, 0]
    assert await store_state(svc, "P001") == await store_state(svc, "P002")


async def test_a_resume_is_refused_before_anything_is_staged_unless_it_is_the_files_rest_from_its_line(
        small_batches: Running) -> None:
    svc = small_batches
    body = ndjson([store_row(n) for n in range(300)])
    attempt = await break_off(svc, body, fmt="ndjson", content_type="application/x-ndjson")
    sid, line = attempt["submission_id"], attempt["resume_line"]
    ndjson_type = "application/x-ndjson"

    wrong_line = await resume(svc, sid, rest(body, line + 1), line + 1, content_type=ndjson_type)
    assert wrong_line.status_code == 409 and wrong_line.headers["content-type"] == PROBLEM
    assert wrong_line.json()["resume_line"] == line
    not_the_rest = await resume(svc, sid, b'["a JSON array"]\n' + rest(body, line), line, content_type=ndjson_type)
    assert not_the_rest.status_code == 422 and not_the_rest.headers["content-type"] == PROBLEM
    other_platform = await resume(svc, sid, rest(body, line), line, content_type=ndjson_type, platform="P002")
    assert other_platform.status_code == 404
    regulator = await svc.http.patch(f"/v1/submissions/{sid}", params={"from_line": line}, content=rest(body, line),
                                     headers=svc.auth("regulator") | {"content-type": ndjson_type})
    assert regulator.status_code == 403
    unchanged = (await svc.http.get(f"/v1/submissions/{sid}", headers=svc.auth("regulator"))).json()
    assert (unchanged["state"], unchanged["rows_staged"], unchanged["resume_line"]) == ("interrupted", attempt["rows_staged"], line)

    assert (await resume(svc, sid, rest(body, line), line, content_type=ndjson_type)).status_code == 202
    await settled(svc, sid)
    again = await resume(svc, sid, rest(body, line), line, content_type=ndjson_type)
    assert again.status_code == 409 and "applied" in again.json()["detail"]


@pytest.fixture
async def no_resume_window(monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str, prefix: str,
                           database: tuple[str, str | None]) -> AsyncIterator[Running]:
    monkeypatch.setenv("REDSHIELD_BRIDGE_SUBMISSION_BATCH_ROWS", "50")
    monkeypatch.setenv("REDSHIELD_BRIDGE_RESUME_WINDOW_SECONDS", "0")
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database) as svc:
        await register(svc)
        yield svc


async def test_an_upload_not_resumed_in_time_gives_its_rows_up_and_must_be_resent(no_resume_window: Running) -> None:
    svc = no_resume_window
    _, receiver, _ = svc.app.state.bridge
    body = ndjson([store_row(n) for n in range(300)])
    attempt = await break_off(svc, body, fmt="ndjson", content_type="application/x-ndjson")
    await receiver.sweep_stale()  # the janitor's pass, which the applier runs every few seconds
    expired = (await svc.http.get(f"/v1/submissions/{attempt['submission_id']}", headers=svc.auth("regulator"))).json()
    assert (expired["state"], expired["resume_line"]) == ("interrupted", None) and "resend" in expired["failure"]
    assert await query(svc, sa.select(staged_stores)) == []
    # (Its line is no longer shown — the applier's own pass may have expired it before the test looked.)
    late = await resume(svc, attempt["submission_id"], rest(body, 151), 151, content_type="application/x-ndjson")
    assert late.status_code == 409 and "resend the whole file" in late.json()["detail"]
    resent = await settled(svc, (await submit(svc, body)).json()["submission_id"])
    assert (resent["state"], resent["registered"]) == ("applied", 300)


async def test_a_newer_upload_of_the_platform_ends_its_interrupted_one(small_batches: Running) -> None:
    # Resumed after the newer file was applied, the older one would apply over it.
    svc = small_batches
    older = ndjson([store_row(n) for n in range(300)])
    attempt = await break_off(svc, older, fmt="ndjson", content_type="application/x-ndjson")
    newer = await settled(svc, (await submit(svc, ndjson([store_row(n, category="服装") for n in range(100)]), period="2026H2")).json()[
        "submission_id"])
    assert newer["state"] == "applied"
    ended = (await svc.http.get(f"/v1/submissions/{attempt['submission_id']}", headers=svc.auth("regulator"))).json()
    assert ended["resume_line"] is None and f"superseded by submission {newer['submission_id']}" in ended["failure"]
    late = await resume(svc, attempt["submission_id"], rest(older, attempt["resume_line"]), attempt["resume_line"],
                        content_type="application/x-ndjson")
    assert late.status_code == 409
    assert await query(svc, sa.select(staged_stores)) == []
    assert {state[3] for state in (await store_state(svc, "P001")).values()} == {"服装"}


def stalling(body: bytes, release: asyncio.Event) -> AsyncIterator[bytes]:
    """An upload that sends half its body, stalls until ``release``, then sends the rest."""

    async def chunks() -> AsyncIterator[bytes]:
        half = len(body) // 2
        for start in range(0, half, 4096):
            yield body[start:min(start + 4096, half)]
        await release.wait()
        yield body[half:]

    return chunks()


async def test_a_stalled_upload_declared_broken_and_resumed_takes_nothing_more_when_it_wakes(small_batches: Running) -> None:
    svc = small_batches
    _, receiver, _ = svc.app.state.bridge
    body = ndjson([store_row(n, category="服装" if n % 4 == 0 else "食品") for n in range(300)])
    release = asyncio.Event()
    stalled = asyncio.create_task(svc.http.post(
        "/v1/platforms/P001/submissions", params={"format": "ndjson", "period": "2026H1"}, content=stalling(body, release),
        headers=headers(svc, "P001", "application/x-ndjson"), timeout=60))

    async def part_staged() -> dict[str, Any] | None:
        listed = (await svc.http.get("/v1/platforms/P001/submissions", headers=svc.auth("regulator"))).json()["submissions"]
        return listed[0] if listed and listed[0]["rows_staged"] >= 100 else None

    first = await eventually(part_staged, timeout=30, interval=0.05)
    receiver.stale_after_s = 0.0  # no heartbeat since its last batch: the janitor declares it broken
    await receiver.sweep_stale()
    stopped = (await svc.http.get(f"/v1/submissions/{first['submission_id']}", headers=svc.auth("regulator"))).json()
    assert stopped["state"] == "interrupted"
    receiver.stale_after_s = 60.0
    # The resumed part stalls too, halfway: the stalled first part wakes up while the second is being received.
    release_resumed = asyncio.Event()
    resuming = asyncio.create_task(resume(svc, stopped["submission_id"], stalling(rest(body, stopped["resume_line"]), release_resumed),
                                          stopped["resume_line"], content_type="application/x-ndjson"))

    async def second_part_staging() -> bool:
        current = (await svc.http.get(f"/v1/submissions/{stopped['submission_id']}", headers=svc.auth("regulator"))).json()
        return bool(current["state"] == "receiving" and current["rows_staged"] > stopped["rows_staged"])

    await eventually(second_part_staging, timeout=30, interval=0.05)
    release.set()  # the first upload wakes up and sends its second half
    woken = await stalled
    assert woken.status_code == 409 and woken.json()["type"].endswith("upload-superseded")
    release_resumed.set()
    resumed = await resuming
    assert resumed.status_code == 202, resumed.text
    done = await settled(svc, stopped["submission_id"])
    straight = await settled(svc, (await submit(svc, body, platform="P002")).json()["submission_id"], "P002")
    assert [done[k] for k in COUNTS] == [straight[k] for k in COUNTS] == ["applied", 300, 300, 0, 0, 300, 0, 0, 0]
    assert await store_state(svc, "P001") == await store_state(svc, "P002")
