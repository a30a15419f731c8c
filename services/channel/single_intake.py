"""Single intake, written in groups: each ``POST /v1/complaints`` is one platform's one filing, but the filings
that arrive while the previous group is being written share the next transaction (see
:mod:`services.runtime.batching`). Each caller still gets its own answer, and a filing is answered only after its
transaction committed, so a 202 means the item and its events are durable, exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.codes import IntakeChannel
from contracts.events.channel import ComplaintFiling
from services.channel import metrics
from services.channel.domain import IntakeRejected
from services.channel.intake import Filed, Intake
from services.runtime.batching import GroupCommit
from services.runtime.service import Service

#: Large enough to carry a busy process's arrivals, small enough that one group's transaction stays short.
MAX_GROUP = 256

Filing = tuple[str, ComplaintFiling]  # (platform_id, filing)


class SingleIntake:
    def __init__(self, service: Service, intake: Intake, *, max_group: int = MAX_GROUP) -> None:
        self.service = service
        self.intake = intake
        self.group: GroupCommit[Filing, Filed] = GroupCommit(self._write, max_batch=max_group, name="channel-single-intake")
        service.on_stop(self.group.close)

    async def file(self, platform_id: str, filing: ComplaintFiling) -> Filed:
        """File one filing (already checked with ``check_filing``); raises :class:`IntakeRejected` for it alone."""
        return await self.group.submit((platform_id, filing))

    async def _write(self, items: Sequence[Filing]) -> list[Filed | BaseException]:
        try:
            return await self._together(items)
        except IntakeRejected:
            if len(items) == 1:
                raise
            # One filing broke a rule the request did not catch: write the others without it, each on its own.
            return [await self._alone(item) for item in items]

    async def _together(self, items: Sequence[Filing]) -> list[Filed | BaseException]:
        by_platform: dict[str, list[int]] = {}
        for index, (platform_id, _) in enumerate(items):
            by_platform.setdefault(platform_id, []).append(index)
        results: list[Filed | BaseException | None] = [None] * len(items)
        async with self.service.uow() as uow:
            for platform_id, indexes in by_platform.items():
                filed = await self.intake.file(uow, platform_id=platform_id, filings=[items[i][1] for i in indexes],
                                               intake=IntakeChannel.PLATFORM_API)
                for index, one in zip(indexes, filed, strict=True):
                    results[index] = one
            await uow.commit()
        metrics.filed(IntakeChannel.PLATFORM_API, (r for r in results if isinstance(r, Filed)))
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    async def _alone(self, item: Filing) -> Filed | BaseException:
        try:
            (filed,) = await self._together([item])
        except IntakeRejected as exc:
            return exc
        return filed
