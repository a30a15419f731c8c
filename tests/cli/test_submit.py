"""`redshield submit`: a platform's upload that breaks off goes on from the line bridge stopped at, and ends where one
unbroken upload does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.cli import submit as client
from services.cli.submit import offset_of_line, upload
from tests.bridge.conftest import ndjson, settled, store_row
from tests.harness import Running


def test_a_lines_offset_is_found_across_chunks_and_crlf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "CHUNK", 7)  # lines straddle the reads
    text = b"first\r\nsecond line\n\nfourth\r\nfifth"
    path = tmp_path / "stores.ndjson"
    path.write_bytes(text)
    for line, start in enumerate([0, 7, 19, 20, 28], start=1):
        assert offset_of_line(path, line) == start
        assert text[start:].split(b"\n")[0] == text.split(b"\n")[line - 1]
    with pytest.raises(client.UploadFailed):
        offset_of_line(path, 7)


async def test_an_upload_that_breaks_off_is_resumed_from_bridges_line_and_matches_an_unbroken_one(small_batches: Running,
                                                                                                 tmp_path: Path) -> None:
    bridge = small_batches
    path = tmp_path / "stores.ndjson"
    content = ndjson([store_row(n, category="服装" if n % 3 == 0 else "食品") for n in range(300)])
    path.write_bytes(content)
    offsets: list[int] = []

    async def breaks_once(_: Path, offset: int) -> AsyncIterator[bytes]:
        offsets.append(offset)
        data = content[offset:]
        if len(offsets) == 1:
            yield data[: len(data) // 2]
            raise ConnectionResetError("the line dropped")
        yield data

    said: list[str] = []
    answer = await upload(bridge.http, path, platform="P001", period="2026H1", fmt="ndjson",
                          token=bridge.token("platform", platform="P001"), opener=breaks_once, show=said.append)
    assert offsets[0] == 0 and 0 < offsets[1] < len(content)
    assert any("resuming submission" in text for text in said)
    done = await settled(bridge, answer["submission_id"])
    straight = await upload(bridge.http, path, platform="P002", period="2026H1", fmt="ndjson", token=bridge.token("platform", platform="P002"))
    other = await settled(bridge, straight["submission_id"], "P002")
    counts = ("state", "rows_total", "rows_staged", "registered")
    assert [done[k] for k in counts] == [other[k] for k in counts] == ["applied", 300, 300, 300]
    assert (done["parts"], other["parts"]) == (2, 1)

    # The same command again: the same key, answered with the submission it already made, nothing sent.
    sent_before = len(offsets)
    again = await upload(bridge.http, path, platform="P001", period="2026H1", fmt="ndjson", token=bridge.token("platform", platform="P001"),
                         opener=breaks_once)
    assert again["submission_id"] == done["submission_id"] and again["state"] == "applied" and len(offsets) == sent_before


async def test_the_command_run_again_after_it_died_mid_upload_resumes_instead_of_resending(small_batches: Running,
                                                                                           tmp_path: Path) -> None:
    bridge = small_batches
    path = tmp_path / "stores.ndjson"
    content = ndjson([store_row(n) for n in range(300)])
    path.write_bytes(content)
    offsets: list[int] = []

    async def dies_halfway(_: Path, offset: int) -> AsyncIterator[bytes]:
        offsets.append(offset)
        yield content[offset : len(content) // 2]
        raise SystemExit("the command was killed")  # not a break it can handle: it dies, as a killed process does

    async def reads(_: Path, offset: int) -> AsyncIterator[bytes]:
        offsets.append(offset)
        yield content[offset:]

    token = bridge.token("platform", platform="P001")
    with pytest.raises(SystemExit):
        await upload(bridge.http, path, platform="P001", period="2026H1", fmt="ndjson", token=token, opener=dies_halfway)
    answer = await upload(bridge.http, path, platform="P001", period="2026H1", fmt="ndjson", token=token, opener=reads)
    assert offsets[0] == 0 and offsets[1] > 0  # the second run sent only the rest
    done = await settled(bridge, answer["submission_id"])
    assert (done["state"], done["rows_staged"], done["registered"], done["parts"]) == ("applied", 300, 300, 2)
