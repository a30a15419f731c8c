"""Group commit: concurrent requests that each write a little share one transaction.

One HTTP request per complaint is how platforms call us, but one transaction per complaint is what a database does
slowest (a commit, an fsync, a round of statements). :class:`GroupCommit` queues what concurrent callers submit and
hands everything queued so far to one ``handle`` call — one transaction — while the callers wait for their own
result. Nothing waits on a timer: a batch is whatever arrived while the previous one was being written, so a lone
caller is served at once and a busy process writes ever larger batches (the classic group commit of databases).

``handle`` answers one result per item, in order: a value, or an exception that only that caller sees. If ``handle``
itself raises, every caller of that batch gets the error (nothing of the batch was committed, so each may retry).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Handler = Callable[[Sequence[T]], Awaitable[Sequence["R | BaseException"]]]


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    future: asyncio.Future[R] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit(Generic[T, R]):
    def __init__(self, handle: Handler[T, R], *, max_batch: int = 500, name: str = "group-commit") -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._handle = handle
        self._max_batch = max_batch
        self._name = name
        self._queue: asyncio.Queue[_Waiting[T, R]] | None = None
        self._worker: asyncio.Task[None] | None = None
        #: Sizes of the batches written so far (the last 1,000): what a benchmark or a metric reads.
        self.batch_sizes: list[int] = []

    async def submit(self, item: T) -> R:
        """Queue ``item``; return its result once the batch it joined is written (or raise its error)."""
        if self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(), name=self._name)
        assert self._queue is not None
        waiting: _Waiting[T, R] = _Waiting(item)
        self._queue.put_nowait(waiting)
        return await waiting.future

    async def close(self) -> None:
        """Write what is queued, then stop the worker."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if self._queue is not None:
            await self._queue.join()
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _write(self, batch: list[_Waiting[T, R]]) -> None:
        live = [w for w in batch if not w.future.done()]  # a caller that gave up (cancelled) is not written for
        if not live:
            return
        self.batch_sizes = [*self.batch_sizes[-999:], len(live)]
        try:
            results = await self._handle([w.item for w in live])
        except Exception as exc:  # the whole batch failed: every caller sees why, none of it was committed
            for w in live:
                if not w.future.done():
                    w.future.set_exception(exc)
            return
        if len(results) != len(live):
            error = RuntimeError(f"{self._name}: handler answered {len(results)} results for {len(live)} items")
            for w in live:
                if not w.future.done():
                    w.future.set_exception(error)
            return
        for w, result in zip(live, results, strict=True):
            if w.future.done():
                continue
            if isinstance(result, BaseException):
                w.future.set_exception(result)
            else:
                w.future.set_result(result)
