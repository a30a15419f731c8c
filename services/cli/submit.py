"""``redshield submit FILE --platform P --period 2026H1``: a platform's semi-annual list uploaded the way bridge wants it.

The file streams in 1 MiB chunks under an Idempotency-Key (given, or made from the platform, period and the file's
size and modification time, so a rerun of the same command is the same upload). When the connection breaks — or
the command runs again after it died — the submission is looked up by that key: ``interrupted`` with a
``resume_line`` means the rest of the file is sent from that line (``PATCH /v1/submissions/{id}?from_line=…``),
found by counting newlines as bridge does; one that cannot be resumed is resent whole under the same key. Progress
goes to stderr; the submission's answer, as JSON, to stdout. The token comes from ``--token`` or
``REDSHIELD_TOKEN`` (a platform's: ``POST /v1/token`` with its API credential, or ``redshield token --role
platform`` in dev).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

CHUNK = 1 << 20
#: What the upload reads the file with: (path, byte offset) → chunks. Tests put a breaking one in its place.
Opener = Callable[[Path, int], AsyncIterator[bytes]]


class UploadFailed(Exception):
    """Bridge refused the file or the resume (a problem+json answer), or the attempts ran out."""


async def read_from(path: Path, offset: int) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        file.seek(offset)
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk


def offset_of_line(path: Path, line: int) -> int:
    """The byte offset where line ``line`` (1-based, counted by newline as bridge counts) begins."""
    if line <= 1:
        return 0
    seen, position = 0, 0
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            count = chunk.count(b"\n")
            if seen + count >= line - 1:
                cut = -1
                for _ in range(line - 1 - seen):
                    cut = chunk.index(b"\n", cut + 1)
                return position + cut + 1
            seen += count
            position += len(chunk)
    raise UploadFailed(f"{path} has {seen + 1} lines; bridge asks to resume from line {line}")


def default_key(path: Path, platform: str, period: str) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{platform}|{period}|{path.name}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:40]


def _problem(answer: httpx.Response) -> UploadFailed:
    try:
        body = answer.json()
        detail = body.get("detail") or body.get("title")
    except ValueError:
        detail = answer.text[:300]
    return UploadFailed(f"bridge answered {answer.status_code}: {detail}")


class Progress:
    def __init__(self, total: int, show: Callable[[str], None]) -> None:
        self.total = total
        self.show = show
        self._shown = -1

    def at(self, sent: int) -> None:
        percent = int(100 * sent / self.total) if self.total else 100
        if percent // 5 != self._shown // 5:
            self._shown = percent
            self.show(f"  {sent / 1e6:,.1f} of {self.total / 1e6:,.1f} MB sent ({percent} %)")


async def upload(client: httpx.AsyncClient, path: Path, *, platform: str, period: str, fmt: str, token: str,
                 key: str | None = None, attempts: int = 5, opener: Opener = read_from,
                 show: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """Upload ``path`` until bridge has all of it; answers the submission as bridge last showed it."""
    key = key or await asyncio.to_thread(default_key, path, platform, period)
    auth = {"Authorization": f"Bearer {token}"}
    content_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
    progress = Progress((await asyncio.to_thread(path.stat)).st_size, show)

    async def counted(offset: int) -> AsyncIterator[bytes]:
        sent = offset
        async for chunk in opener(path, offset):
            sent += len(chunk)
            progress.at(sent)
            yield chunk

    # A rerun of the command after it died mid-upload finds its submission by the key, as after a break.
    resume = await _after_break(client, platform, key, auth, show)
    if resume is not None and resume["state"] in _ARRIVED:
        return resume
    for attempt in range(1, attempts + 1):
        try:
            if resume is None:
                show(f"uploading {path} for {platform} ({period}), Idempotency-Key {key}")
                answer = await client.post(f"/v1/platforms/{platform}/submissions", params={"format": fmt, "period": period},
                                           content=counted(0), headers=auth | {"content-type": content_type, "Idempotency-Key": key})
            else:
                line = int(resume["resume_line"])
                offset = await asyncio.to_thread(offset_of_line, path, line)
                show(f"resuming submission {resume['submission_id']} from line {line:,} (byte {offset:,})")
                answer = await client.patch(f"/v1/submissions/{resume['submission_id']}", params={"from_line": line},
                                            content=counted(offset), headers=auth | {"content-type": content_type})
        except (httpx.TransportError, OSError) as exc:
            show(f"attempt {attempt}: the upload broke off ({type(exc).__name__}: {exc})")
            found = await _after_break(client, platform, key, auth, show)
            if found is not None and found["state"] in _ARRIVED:
                return found  # it all arrived; only the answer was lost
            resume = found
            continue
        if answer.status_code in (200, 202):
            result: dict[str, Any] = answer.json()
            return result
        if answer.status_code == 409 and resume is not None:
            show(f"attempt {attempt}: {_problem(answer)}; sending the whole file again")
            resume = None
            continue
        raise _problem(answer)
    raise UploadFailed(f"gave up after {attempts} attempts")


_ARRIVED = frozenset({"staged", "applied", "rejected"})


async def _after_break(client: httpx.AsyncClient, platform: str, key: str, auth: dict[str, str],
                       show: Callable[[str], None]) -> dict[str, Any] | None:
    """The submission this key names once bridge has noticed the break: one that arrived whole, or an interrupted one
    that can be resumed; None to resend the file whole."""
    # bridge notices a dead upload by its connection, or after its heartbeat goes stale: wait for either.
    for _ in range(120):
        listed = (await client.get(f"/v1/platforms/{platform}/submissions", params={"limit": 20}, headers=auth)).json()
        mine = [s for s in listed.get("submissions", []) if s.get("idempotency_key") == key]
        if not mine:
            return None
        state = mine[0]["state"]
        if state in _ARRIVED or (state == "interrupted" and mine[0].get("resume_line")):
            return dict(mine[0])
        if state != "receiving":
            return None
        await asyncio.sleep(1.0)
    show("bridge still shows the upload as being received; sending the whole file again")
    return None


def main(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("REDSHIELD_TOKEN")
    if not token:
        print("a platform token is needed: --token or REDSHIELD_TOKEN", file=sys.stderr)
        return 2
    path = Path(args.file)
    fmt = args.format or ("csv" if path.suffix.lower() == ".csv" else "ndjson")

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=args.bridge_url, timeout=httpx.Timeout(60.0, read=None)) as client:
            return await upload(client, path, platform=args.platform, period=args.period, fmt=fmt, token=token, key=args.key,
                                attempts=args.attempts, show=lambda text: print(text, file=sys.stderr, flush=True))

    try:
        result = asyncio.run(run())
    except UploadFailed as exc:
        print(f"upload failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0
