"""The risk-warning job: reads complaint series from ClickHouse, runs the pure detectors, and records each new
warning with its event in one transaction (outbox), so every warning is published exactly once."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from contracts.envelope import Envelope
from contracts.events.analytics import WarningRaised
from services.analytics import risk
from services.analytics.clickhouse import ClickHouse
from services.runtime.service import Service

log = logging.getLogger("redshield.analytics.warnings")
CHINA_TIME = timezone(timedelta(hours=8))
SOURCE = "/redshield/analytics"

warnings_table = sa.Table(
    "warnings",
    sa.MetaData(),
    sa.Column("warning_id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("key", sa.JSON, nullable=False),
    sa.Column("platform_id", sa.String(32)),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("baseline", sa.Float, nullable=False),
    sa.Column("z", sa.Float, nullable=False),
    sa.Column("p_value", sa.Float, nullable=False),
    sa.Column("examples", sa.JSON, nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
)


def _jieba() -> Callable[[str], Iterable[str]]:
    import logging as _logging

    import jieba

    jieba.setLogLevel(_logging.WARNING)
    return jieba.lcut  # type: ignore[no-any-return]


class WarningsJob:
    def __init__(
        self,
        service: Service,
        ch: ClickHouse,
        *,
        spike_rules: risk.SpikeRules = risk.SpikeRules(),
        term_rules: risk.HotTermRules = risk.HotTermRules(),
    ) -> None:
        self.service = service
        self.ch = ch
        self.spike_rules = spike_rules
        self.term_rules = term_rules
        self._segment: Callable[[str], Iterable[str]] | None = None
        self._baseline_cache: tuple[date, int, dict[str, int]] | None = None

    def _window(self, day: date) -> tuple[datetime, datetime, datetime]:
        start = datetime.combine(day, time.min, CHINA_TIME)
        return start - timedelta(days=self.spike_rules.baseline_days), start, start + timedelta(days=1)

    async def _series(self, key_sql: str, day: date) -> dict[tuple[str, ...], risk.Series]:
        history_start, start, end = self._window(day)
        rows = await self.ch.query(
            f"""
            SELECT {key_sql} AS k, toDate(received_at, 'Asia/Shanghai') AS d, count() AS n, groupArray(5)(complaint_id) AS ex
            FROM complaints FINAL
            WHERE received_at >= {{a:DateTime64(3, 'UTC')}} AND received_at < {{b:DateTime64(3, 'UTC')}}
            GROUP BY k, d
            """,
            {"a": history_start.astimezone(UTC).replace(tzinfo=None), "b": end.astimezone(UTC).replace(tzinfo=None)},
        )
        history: dict[tuple[str, ...], dict[date, int]] = defaultdict(dict)
        current: dict[tuple[str, ...], tuple[int, list[str]]] = {}
        for k, d, n, ex in rows:
            key = tuple(k)
            if d == day:
                current[key] = (int(n), list(ex))
            else:
                history[key][d] = int(n)
        days = [start.date() - timedelta(days=i) for i in range(self.spike_rules.baseline_days, 0, -1)]
        return {key: risk.Series(count, [history[key].get(d, 0) for d in days], examples) for key, (count, examples) in current.items()}

    async def _hot_terms(self, day: date) -> list[risk.Warning]:
        if self._segment is None:
            self._segment = await asyncio.to_thread(_jieba)
        segment = self._segment
        history_start, start, end = self._window(day)
        if self._baseline_cache is None or self._baseline_cache[0] != day:
            rows = await self.ch.query(
                "SELECT description FROM complaints FINAL WHERE received_at >= {a:DateTime64(3, 'UTC')} "
                "AND received_at < {b:DateTime64(3, 'UTC')} ORDER BY cityHash64(complaint_id) LIMIT 50000",
                {"a": history_start.astimezone(UTC).replace(tzinfo=None), "b": start.astimezone(UTC).replace(tzinfo=None)},
            )
            df: dict[str, int] = defaultdict(int)

            def count_terms() -> None:
                for (text,) in rows:
                    for term in risk.terms_of(text, segment):
                        df[term] += 1

            await asyncio.to_thread(count_terms)
            self._baseline_cache = (day, len(rows), dict(df))
        _, n_baseline, baseline_df = self._baseline_cache
        current = await self.ch.query(
            "SELECT complaint_id, description FROM complaints FINAL WHERE received_at >= {a:DateTime64(3, 'UTC')} "
            "AND received_at < {b:DateTime64(3, 'UTC')} ORDER BY received_at LIMIT 20000",
            {"a": start.astimezone(UTC).replace(tzinfo=None), "b": end.astimezone(UTC).replace(tzinfo=None)},
        )
        docs = [(str(cid), str(text)) for cid, text in current]
        return await asyncio.to_thread(risk.detect_hot_terms, docs, n_baseline, baseline_df, day, segment, self.term_rules)

    async def detect(self, day: date) -> list[risk.Warning]:
        found = risk.detect_spikes(
            "spike_platform_category", await self._series("[platform_id, toString(category)]", day), day, self.spike_rules
        )
        found += risk.detect_spikes("spike_merchant", await self._series("[platform_id, store_id]", day), day, self.spike_rules)
        found += await self._hot_terms(day)
        return found

    async def run_once(self) -> int:
        """Detect for today (China Standard Time) and record what is new; returns how many were raised."""
        now = self.service.clock.now()
        found = await self.detect(now.astimezone(CHINA_TIME).date())
        if not found:
            return 0
        async with self.service.uow() as uow:
            known = set(
                (
                    await uow.conn.execute(
                        sa.select(warnings_table.c.warning_id).where(warnings_table.c.warning_id.in_([w.warning_id for w in found]))
                    )
                ).scalars()
            )
            fresh = [w for w in found if w.warning_id not in known]
            for w in fresh:
                platform = w.key[0] if w.kind != "hot_term" else None
                await uow.conn.execute(
                    sa.insert(warnings_table).values(
                        warning_id=w.warning_id,
                        kind=w.kind,
                        key=list(w.key),
                        platform_id=platform,
                        day=w.day,
                        count=w.count,
                        baseline=w.baseline,
                        z=_finite(w.z),
                        p_value=w.p_value,
                        examples=list(w.examples),
                        raised_at=now,
                    )
                )
                event = WarningRaised(
                    warning_id=w.warning_id,
                    kind=w.kind,
                    key=list(w.key),
                    day=w.day,
                    count=w.count,  # type: ignore[arg-type]
                    baseline=w.baseline,
                    z=_finite(w.z),
                    p_value=w.p_value,
                    examples=list(w.examples),
                    raised_at=now,
                )
                uow.publish(
                    event.topic,
                    Envelope(
                        type=event.event_type,
                        source=SOURCE,
                        subject=w.warning_id,
                        data=event.model_dump(mode="json"),
                        time=now,
                        dataschema=event.dataschema(),
                        platformid=platform,
                    ),
                )
            await uow.commit()
        for w in fresh:
            log.info("risk warning raised", extra={"fields": {"kind": w.kind, "key": list(w.key), "count": w.count, "p": w.p_value}})
        return len(fresh)

    async def loop(self, interval: float) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the job must outlive a bad pass; the next pass tries again
                log.exception("risk-warning pass failed")
            await asyncio.sleep(interval)


def _finite(value: float) -> float:
    return value if value != float("inf") else 1e9


async def list_warnings(service: Service, *, day_from: date, day_to: date, kind: str | None, platform: str | None) -> list[dict[str, Any]]:
    query = sa.select(warnings_table).where(warnings_table.c.day >= day_from, warnings_table.c.day <= day_to)
    if kind:
        query = query.where(warnings_table.c.kind == kind)
    if platform:
        query = query.where(warnings_table.c.platform_id == platform)
    async with service.uow() as uow:
        rows = (await uow.conn.execute(query.order_by(warnings_table.c.raised_at.desc(), warnings_table.c.p_value).limit(500))).all()
    return [{**dict(row._mapping), "day": row.day.isoformat(), "raised_at": row.raised_at.isoformat()} for row in rows]
