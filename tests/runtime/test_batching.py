"""Group commit: concurrent submissions share one write, each caller gets its own answer, nothing waits on a timer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from services.runtime.batching import GroupCommit


class Recorder:
    def __init__(self, delay: float = 0.01) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.writing = asyncio.Event()

    async def handle(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        self.writing.set()
        await asyncio.sleep(self.delay)  # the transaction's time, during which others queue up
        return [ValueError(f"odd {n}") if n % 2 else n * 10 for n in items]


async def test_callers_arriving_while_a_batch_is_written_share_the_next_one() -> None:
    recorder = Recorder()
    group: GroupCommit[int, int] = GroupCommit(recorder.handle)
    first = asyncio.create_task(group.submit(0))
    await recorder.writing.wait()  # the first caller's write has begun …
    rest = await asyncio.gather(*(group.submit(n) for n in range(2, 200, 2)))  # … and these arrive during it
    assert await first == 0 and rest == [n * 10 for n in range(2, 200, 2)]
    assert recorder.batches == [[0], list(range(2, 200, 2))]
    await group.close()


async def test_a_lone_caller_is_served_at_once() -> None:
    recorder = Recorder(delay=0)
    group: GroupCommit[int, int] = GroupCommit(recorder.handle)
    assert await asyncio.wait_for(group.submit(4), 1) == 40
    assert recorder.batches == [[4]]
    await group.close()


async def test_an_item_refused_fails_only_its_own_caller() -> None:
    group: GroupCommit[int, int] = GroupCommit(Recorder().handle)
    results = await asyncio.gather(*(group.submit(n) for n in (2, 3, 4)), return_exceptions=True)
    assert results[0] == 20 and results[2] == 40
    assert isinstance(results[1], ValueError) and str(results[1]) == "odd 3"
    await group.close()


async def test_a_failed_write_fails_every_caller_of_that_batch_and_the_next_batch_is_written() -> None:
    calls = 0

    async def flaky(items: Sequence[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 2:
            raise ConnectionError("database went away")
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(flaky)
    assert await group.submit(0) == 0
    second = await asyncio.gather(*(group.submit(n) for n in range(1, 5)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in second), second
    assert await group.submit(9) == 9
    await group.close()


async def test_batches_never_exceed_their_limit() -> None:
    recorder = Recorder()
    group: GroupCommit[int, int] = GroupCommit(recorder.handle, max_batch=16)
    await asyncio.gather(*(group.submit(n) for n in range(0, 100, 2)))
    assert max(len(b) for b in recorder.batches) == 16 and sum(len(b) for b in recorder.batches) == 50
    await group.close()


async def test_a_handler_answering_the_wrong_number_of_results_is_an_error_for_everyone() -> None:
    async def short(items: Sequence[int]) -> list[int | BaseException]:
        return list(items)[:-1]

    group: GroupCommit[int, int] = GroupCommit(short)
    with pytest.raises(RuntimeError, match="1 items"):
        await group.submit(1)
    await group.close()


def test_a_batch_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(Recorder().handle, max_batch=0)
