"""``redshield bench pipeline``: complaints from platform feeds to the governance cockpit, against the raw limits.

One run, all on this machine and one broker:

1. Kafka (``KAFKA_BOOTSTRAP_SERVERS``, or one started here), then channel and analytics as their own processes
   (``redshield serve``) in a temporary var dir, with a topic prefix of this run's own.
2. Raw limits: aiokafka producing N feed-shaped records to a scratch topic and reading them back; the analytics
   processors turning N ComplaintReceived events into rows; chDB inserting those rows in ingest-sized batches.
3. The pipeline: N feed records over P platforms' feed topics, timed from the first publish until the governance
   cockpit counts all N; per-record freshness from time buckets (see ``FRESHNESS_METHOD``).
4. A table, then one JSON line of figures (the last line of output).

Everything it starts is stopped in ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts import topics, uscc
from contracts.codes import ComplaintCategory, IntakeChannel
from contracts.envelope import Envelope
from contracts.events.channel import ComplaintFiling, ComplaintSubmitted
from contracts.ids import new_id
from services.cli import benchkit
from services.cli.benchkit import Kafka, ServiceProcess, delete_topics, percentile, progress, rate, rounded, say

CHINA_TIME: Final = timezone(timedelta(hours=8))
#: Partitions of every topic this benchmark creates (the dev broker's num.partitions).
PARTITIONS: Final = 3
#: Events per analytics insert batch: the ingest's ``max_records`` default (AnalyticsSettings.ingest_max_records).
INGEST_BATCH: Final = 5000
#: At most this many freshness buckets; each is one day of ``received_at`` in the cockpit's daily trend.
MAX_BUCKETS: Final = 60
POLL_INTERVAL_S: Final = 0.2
#: The freshness phase publishes at half the burst's end-to-end rate for this long, in buckets of ~this much time.
PACED_SECONDS: Final = 15.0
PACED_WINDOW_S: Final = PACED_SECONDS / MAX_BUCKETS
METRICS_INTERVAL_S: Final = 0.5
#: The pipeline phase gives up when the cockpit count has not moved for this long.
STALL_S: Final = 60.0
#: The platform's producer, configured like the services' own (services.runtime.kafka.new_producer).
PRODUCER_OPTIONS: Final[dict[str, Any]] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "max_batch_size": 256 * 1024,
    "compression_type": None,
    "request_timeout_ms": 30_000,
}

FRESHNESS_METHOD: Final = (
    "Freshness, per record: the N records are cut, in publish order, into B consecutive buckets and every bucket's "
    "filings carry received_at on a day of their own. Each cockpit poll (every {interval} ms, same request as a user's) "
    "returns the daily trend, i.e. the visible count of every bucket; a record's freshness is the time from its own "
    "publish call to the end of the first poll that shows its whole bucket. That is an upper bound: it includes up to "
    "one poll interval plus the cockpit's response time, and the wait for the bucket's slowest sibling."
)
LAG_METHOD: Final = (
    "Cockpit lag: freshness.lag_seconds as the cockpit reports it on the same polls (now minus the time of the newest "
    "event ingested, that time being channel's intake time): it leaves out the wait in the feed before channel, so "
    "it reads low while a backlog drains."
)

# -- realistic filings ---------------------------------------------------------------------------------------
_REGIONS: Final = ("330102", "330105", "330106", "330108", "330109", "330110", "330111", "330112", "330113", "330114",
                   "330122", "330127", "330182", "330203", "330212", "330302", "330402", "330502", "330602", "330702")
_STORES: Final = (
    ("西湖茶叶旗舰店", "食品"), ("潮流数码专营店", "数码"), ("江南丝绸官方旗舰店", "服装"), ("萌宝母婴专营店", "母婴"),
    ("美妆个护海外旗舰店", "化妆品"), ("智选家电专营店", "家用电器"), ("四季鲜果直营店", "生鲜"), ("山野户外运动店", "运动户外"),
    ("书香文具专营店", "文具"), ("宠物优品旗舰店", "宠物用品"), ("临安山核桃特产店", "食品"), ("义乌小商品百货店", "日用百货"),
)
_TEXTS: Final[dict[ComplaintCategory, str]] = {
    ComplaintCategory.QUALITY: "收到的商品有明显质量问题，包装破损且有异味，联系商家要求退货被拒绝。",
    ComplaintCategory.COUNTERFEIT: "该店铺销售的品牌商品疑似假冒，防伪码查询无记录，做工与专柜明显不同。",
    ComplaintCategory.FALSE_ADVERTISING: "商品详情页宣称的功效与实际不符，宣传使用了“最高级”“国家级”等用语。",
    ComplaintCategory.PRICE: "下单前页面显示的划线原价从未实际成交，优惠后价格高于活动前价格，涉嫌价格欺诈。",
    ComplaintCategory.AFTER_SALES: "商品在保修期内出现故障，商家以人为损坏为由拒绝保修，也不提供检测报告。",
    ComplaintCategory.REFUND: "申请七天无理由退货，商家收到退货后超过十五天仍未退款，客服一直不回复。",
    ComplaintCategory.DELIVERY: "物流信息显示已签收但本人未收到，快递员称放在驿站，驿站查无此件。",
    ComplaintCategory.CONTRACT: "商家在格式条款中约定“售出概不退换”“最终解释权归本店所有”，排除消费者权利。",
    ComplaintCategory.PERSONAL_INFO: "下单后频繁接到推销电话，对方能准确说出订单信息，怀疑商家泄露个人信息。",
    ComplaintCategory.FOOD_SAFETY: "购买的食品已过保质期仍在销售，食用后出现腹泻症状，要求商家赔偿。",
    ComplaintCategory.PROMOTION: "购买时默认勾选了自动续费服务，扣费前未进行提醒，取消续费的入口难以找到。",
    ComplaintCategory.OTHER: "商家在交易过程中态度恶劣，存在辱骂消费者的行为，平台处理结果不满意。",
}
_SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN: Final = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平")


def _uscc_for(rng: random.Random, region: str) -> str:
    body = "91" + region + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return uscc.complete(body)


def make_filing(rng: random.Random, pcid: str, received_at: datetime) -> dict[str, Any]:
    """A filing as a platform would send it: real categories, merchants, amounts, Chinese text, and consumers."""
    category = rng.choice(list(ComplaintCategory))
    store_no = rng.randrange(len(_STORES) * 40)
    store_name, goods = _STORES[store_no % len(_STORES)]
    region = _REGIONS[store_no % len(_REGIONS)]
    is_report = rng.random() < 0.15
    merchant: dict[str, Any] = {"store_id": f"S-{10000 + store_no}", "store_name": store_name}
    if rng.random() < 0.8:
        merchant["uscc"] = _uscc_for(rng, region)
        merchant["region"] = region
    body: dict[str, Any] = {
        "platform_complaint_id": pcid,
        "kind": "report" if is_report else "complaint",
        "received_at": received_at.isoformat(),
        "merchant": merchant,
        "order": {"order_id": f"O-{rng.randrange(10**11, 10**12)}", "amount": f"{rng.randrange(1, 500000) / 100:.2f}",
                  "goods_category": goods},
        "category": category.value,
        "description": f"订单号{rng.randrange(10**8, 10**9)}：{_TEXTS[category]}",
    }
    if not is_report or rng.random() < 0.3:
        body["consumer"] = {"name": rng.choice(_SURNAMES) + rng.choice(_GIVEN), "phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"}
    return body


@dataclass(frozen=True, slots=True)
class FeedRecord:
    index: int
    platform_id: str
    topic: str  # logical name, without the run's prefix
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    filing: dict[str, Any]
    bucket: int


@dataclass(frozen=True, slots=True)
class Buckets:
    """Publish-order buckets: bucket ``b`` holds records [starts[b], starts[b+1]) and is dated ``days[b]``."""

    days: tuple[date, ...]
    starts: tuple[int, ...]

    def size(self, b: int) -> int:
        return self.starts[b + 1] - self.starts[b]

    @classmethod
    def plan(cls, n: int, first_day: date) -> Buckets:
        """At most ``MAX_BUCKETS`` buckets of (nearly) equal size."""
        count = max(1, min(MAX_BUCKETS, n))
        starts = tuple(b * n // count for b in range(count + 1))
        return cls(tuple(first_day + timedelta(days=b) for b in range(count)), starts)

    @classmethod
    def of_size(cls, n: int, size: int, first_day: date) -> Buckets:
        """Buckets of ``size`` records (the last one may be smaller)."""
        starts = (*range(0, n, size), n)
        return cls(tuple(first_day + timedelta(days=b) for b in range(len(starts) - 1)), starts)


def platform_ids(count: int) -> list[str]:
    return [f"P{i:03d}" for i in range(1, count + 1)]


def feed_records(n: int, platforms: Sequence[str], buckets: Buckets, run: str, seed: int) -> list[FeedRecord]:
    """N feed records, round-robin over the platforms, each bucket's filings received on that bucket's day."""
    rng = random.Random(seed)
    records: list[FeedRecord] = []
    bucket = 0
    for i in range(n):
        while i >= buckets.starts[bucket + 1]:
            bucket += 1
        pid = platforms[i % len(platforms)]
        pcid = f"{pid}-{run}-{i:07d}"
        day = buckets.days[bucket]
        received = datetime(day.year, day.month, day.day, 8, 0, tzinfo=CHINA_TIME) + timedelta(seconds=rng.randrange(13 * 3600))
        filing = make_filing(rng, pcid, received)
        env = Envelope(type=ComplaintSubmitted.event_type, source=f"/platforms/{pid}", subject=pcid, data=filing, platformid=pid,
                       dataschema=ComplaintSubmitted.dataschema())
        records.append(FeedRecord(i, pid, topics.feed_complaints(pid), env.key, env.value(), env.headers(), filing, bucket))
    return records


# -- raw limits -----------------------------------------------------------------------------------------------
async def raw_produce(bootstrap: str, topic: str, records: Sequence[FeedRecord]) -> float:
    """Seconds to produce every record (pipelined sends, then every ack), acks=all and idempotent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="redshield-bench-raw", **PRODUCER_OPTIONS)
    await producer.start()
    try:
        await producer.partitions_for(topic)
        started = time.perf_counter()
        futures = []
        for i, r in enumerate(records):
            futures.append(await producer.send(topic, value=r.value, key=r.key, headers=r.headers))
            if i % 1000 == 999:
                await asyncio.sleep(0)
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def raw_consume(bootstrap: str, topic: str, count: int, within_s: float = 120.0) -> float:
    """Seconds for a group-less consumer to read ``count`` records from the start of ``topic``."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, client_id="redshield-bench-raw")
    await consumer.start()
    try:
        started = time.perf_counter()
        got = 0
        while got < count:
            if time.perf_counter() - started > within_s:
                raise RuntimeError(f"raw consume read {got} of {count} records in {within_s:.0f}s")
            batch = await consumer.getmany(timeout_ms=1000)
            got += sum(len(records) for records in batch.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


@dataclass(slots=True)
class ChdbFigures:
    events: int
    rows: int
    process_s: float
    insert_s: float
    batches: int


def raw_chdb(path: Path, records: Sequence[FeedRecord], batch: int) -> ChdbFigures:
    """The rows analytics would make for the ComplaintReceived events of these records, inserted into a chDB of
    this process's own (a separate data path from the analytics service) in ingest-sized batches."""
    from services.analytics.clickhouse import connect, migrate
    from services.analytics.processors import COLUMNS, Position, process
    from services.channel import domain

    now = datetime.now(UTC)
    envelopes = []
    for r in records:
        filing = ComplaintFiling.model_validate(r.filing)
        complaint = domain.receive(complaint_id=new_id(), platform_id=r.platform_id, filing=filing, intake=IntakeChannel.PLATFORM_FEED,
                                   now=now, home_region="330100", hash_salt=b"redshield-bench")
        event = domain.received_event(complaint)
        envelopes.append(Envelope(type=event.event_type, source="/redshield/channel", subject=complaint.complaint_id,
                                  data=event.model_dump(mode="json", exclude_none=True), time=now, dataschema=event.dataschema(),
                                  region=complaint.region, platformid=r.platform_id))
    client = connect(f"chdb://{path}", "bench")
    try:
        migrate(client)
        process_s = insert_s = 0.0
        rows_total = batches = 0
        for start in range(0, len(envelopes), batch):
            chunk = envelopes[start:start + batch]
            t0 = time.perf_counter()
            ingested_at = datetime.now(UTC)
            merged: dict[str, list[tuple[Any, ...]]] = {}
            for offset, env in enumerate(chunk, start=start):
                rows = process(env, Position(topics.CHANNEL_COMPLAINTS, offset % PARTITIONS, offset // PARTITIONS), ingested_at)
                for table, table_rows in rows.by_table.items():
                    merged.setdefault(table, []).extend(table_rows)
            t1 = time.perf_counter()
            for table, table_rows in merged.items():
                client.insert(table, table_rows, column_names=list(COLUMNS[table]),
                              settings={"insert_deduplication_token": f"{table}:bench:{start}:{len(chunk)}"})
                rows_total += len(table_rows)
            t2 = time.perf_counter()
            process_s += t1 - t0
            insert_s += t2 - t1
            batches += 1
        counted = client.query("SELECT count() FROM complaints").result_rows[0][0]
        if counted != len(envelopes):
            raise RuntimeError(f"raw chDB insert: {counted} complaints rows counted, {len(envelopes)} inserted")
        return ChdbFigures(len(envelopes), rows_total, process_s, insert_s, batches)
    finally:
        client.close()


# -- the pipeline ---------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Poll:
    at: float  # perf_counter at the end of the response
    seconds: float
    total: int
    lag_s: float | None


@dataclass(slots=True)
class StageSample:
    """Counters since the phase began: one feed record per complaint, but channel may publish several events per
    complaint (received, first step, notification), and analytics ingests every one of them."""

    at: float
    consumed: float  # channel: feed records handled (redshield_consumed_total, consumer "channel")
    relayed: float  # channel: outbox rows the relay published, every topic
    ingested: float  # analytics: records its ingest consumer handled, every internal topic


@dataclass(slots=True)
class PipelineRun:
    n: int
    first_publish: float = 0.0
    published_at: list[float] = field(default_factory=list)
    all_acked: float = 0.0
    all_visible: float | None = None
    bucket_visible: dict[int, float] = field(default_factory=dict)
    polls: list[Poll] = field(default_factory=list)
    stages: list[StageSample] = field(default_factory=list)
    visible: int = 0


def _cockpit_params(buckets: Buckets) -> dict[str, str]:
    return {"from": buckets.days[0].isoformat(), "to": buckets.days[-1].isoformat(), "interval": "day"}


async def _cockpit(http: httpx.AsyncClient, params: dict[str, str]) -> dict[str, Any]:
    for attempt in range(5):
        answer = await http.get("/v1/cockpits/governance", params=params)
        if answer.status_code == 200:
            body: dict[str, Any] = answer.json()
            return body
        if answer.status_code < 500 or attempt == 4:
            raise RuntimeError(f"cockpit answered {answer.status_code}: {answer.text[:500]}")
        await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def wait_visible(http: httpx.AsyncClient, params: dict[str, str], count: int, within_s: float) -> float:
    started = time.perf_counter()
    while True:
        body = await _cockpit(http, params)
        if body["complaints"]["total"] >= count:
            return time.perf_counter() - started
        if time.perf_counter() - started > within_s:
            raise RuntimeError(f"cockpit shows {body['complaints']['total']} of {count} after {within_s:.0f}s")
        await asyncio.sleep(POLL_INTERVAL_S)


async def poll_cockpit(http: httpx.AsyncClient, buckets: Buckets, run: PipelineRun, deadline: float, label: str = "") -> None:
    params = _cockpit_params(buckets)
    step = max(1, run.n // 10)
    shown = 0
    last_change = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        body = await _cockpit(http, params)
        t1 = time.perf_counter()
        complaints = body["complaints"]
        total = int(complaints["total"])
        by_day = {str(row.get("day")): int(row["count"]) for row in complaints["trend"]}
        run.polls.append(Poll(t1, t1 - t0, total, body["freshness"]["lag_seconds"]))
        for b, day in enumerate(buckets.days):
            if b not in run.bucket_visible and by_day.get(day.isoformat(), 0) >= buckets.size(b):
                run.bucket_visible[b] = t1
        if total > run.visible:
            run.visible = total
            last_change = t1
        if total >= run.n:
            run.all_visible = t1
            progress(f"{label}visible {total}/{run.n}")
            return
        if total // step > shown:
            shown = total // step
            progress(f"{label}visible {total}/{run.n}")
        if t1 > deadline or t1 - last_change > STALL_S:
            progress(f"{label}gave up: cockpit shows {total}/{run.n} ({'stalled' if t1 - last_change > STALL_S else 'deadline'})")
            return
        await asyncio.sleep(POLL_INTERVAL_S)


async def sample_stages(channel: ServiceProcess, analytics: ServiceProcess, run: PipelineRun, stop: asyncio.Event) -> None:
    """Per-stage progress from the services' own Prometheus counters, every ``METRICS_INTERVAL_S``."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        base: StageSample | None = None
        while True:
            try:
                ch, an = await asyncio.gather(http.get(f"{channel.url}/metrics"), http.get(f"{analytics.url}/metrics"))
                sample = StageSample(
                    time.perf_counter(),
                    benchkit.metric_sum(ch.text, "redshield_consumed_total", service="channel", consumer="channel"),
                    benchkit.metric_sum(ch.text, "redshield_relay_published_total", service="channel"),
                    benchkit.metric_sum(an.text, "redshield_consumed_total", service="analytics", consumer="analytics"),
                )
                if base is None:
                    base = sample
                run.stages.append(StageSample(sample.at, sample.consumed - base.consumed, sample.relayed - base.relayed,
                                              sample.ingested - base.ingested))
            except httpx.HTTPError:
                pass
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), METRICS_INTERVAL_S)


async def drive_pipeline(bootstrap: str, prefix: str, records: Sequence[FeedRecord], buckets: Buckets, http: httpx.AsyncClient,
                         channel: ServiceProcess, analytics: ServiceProcess, *, pace: float | None = None, label: str = "") -> PipelineRun:
    """Publish the records (as fast as the producer takes them, or ``pace`` records/s) while polling the cockpit
    until it counts them all; returns when they are all visible, or the run stalled."""
    n = len(records)
    run = PipelineRun(n, published_at=[0.0] * n)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="redshield-bench-platforms", **PRODUCER_OPTIONS)
    await producer.start()
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_stages(channel, analytics, run, stop_sampling))
    try:
        for name in {r.topic for r in records}:
            await producer.partitions_for(prefix + name)
        await asyncio.sleep(2 * METRICS_INTERVAL_S)  # the sampler's baseline, before the first record
        step = max(1, n // 4)
        acked = 0

        def on_ack(_: Any) -> None:
            nonlocal acked
            acked += 1
            if acked % step == 0 or acked == n:
                progress(f"{label}published {acked}/{n}")

        run.first_publish = time.perf_counter()
        deadline = run.first_publish + 60 + n / 50 + (n / pace if pace else 0)
        poller = asyncio.create_task(poll_cockpit(http, buckets, run, deadline, label))
        futures = []
        for r in records:
            if pace:
                wait = run.first_publish + r.index / pace - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            elif r.index % 500 == 499:
                await asyncio.sleep(0)  # let the poller run while the producer's buffers fill
            run.published_at[r.index] = time.perf_counter()
            future = await producer.send(prefix + r.topic, value=r.value, key=r.key, headers=r.headers)
            future.add_done_callback(on_ack)
            futures.append(future)
        await asyncio.gather(*futures)
        run.all_acked = time.perf_counter()
        await poller
        await asyncio.sleep(METRICS_INTERVAL_S)
    finally:
        stop_sampling.set()
        await sampler
        await producer.stop()
    return run


#: JSON name → stage series in :class:`StageSample`.
STAGES: Final = {"channel_consume": "consumed", "channel_relay": "relayed", "analytics_ingest": "ingested"}


def stage_figures(run: PipelineRun) -> dict[str, dict[str, float | None]]:
    """For each stage, in complaints: its rate between 10 % and 90 % of its work, and when (s after the first publish)
    it was done. A stage's work is its counter's value at the end of the phase; ``per_complaint`` is that over N."""
    out: dict[str, dict[str, float | None]] = {}
    busy: tuple[float, float] | None = None  # when channel's feed consumer went from 10 % to 90 % of the feed
    for stage in ("consumed", "relayed", "ingested"):
        series = [(s.at, getattr(s, stage)) for s in run.stages]
        final = series[-1][1] if series else 0.0
        if final <= 0:
            out[stage] = {"rate_per_s": None, "done_s": None, "per_complaint": None, "rate_while_feed_consumed_per_s": None}
            continue
        t10, t90, t100 = _first_at(series, 0.1 * final), _first_at(series, 0.9 * final), _first_at(series, final)
        if stage == "consumed" and t10 is not None and t90 is not None and t90 > t10:
            busy = (t10, t90)
        while_busy = None
        if busy is not None:
            done_in_busy = _value_at(series, busy[1]) - _value_at(series, busy[0])
            while_busy = rate(done_in_busy / (final / run.n), busy[1] - busy[0])
        out[stage] = {
            "rate_per_s": rate(0.8 * run.n, t90 - t10) if t10 is not None and t90 is not None else None,
            "done_s": t100 - run.first_publish if t100 is not None else None,
            "per_complaint": final / run.n,
            "rate_while_feed_consumed_per_s": while_busy,
        }
    return out


def _first_at(series: Sequence[tuple[float, float]], level: float) -> float | None:
    """When a counter first reached ``level`` (linear between samples)."""
    for i, (at, count) in enumerate(series):
        if count >= level:
            if i == 0:
                return at
            prev_at, prev_count = series[i - 1]
            return prev_at + (at - prev_at) * (level - prev_count) / max(count - prev_count, 1e-9)
    return None


def _value_at(series: Sequence[tuple[float, float]], moment: float) -> float:
    """A counter's value at ``moment`` (linear between samples)."""
    previous = series[0]
    for at, count in series:
        if at >= moment:
            if at == previous[0]:
                return count
            return previous[1] + (count - previous[1]) * (moment - previous[0]) / (at - previous[0])
        previous = (at, count)
    return series[-1][1]


# -- orchestration ----------------------------------------------------------------------------------------------
async def create_topics(bootstrap: str, names: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="redshield-bench")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1) for name in names])
    finally:
        await admin.close()


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def freshness_of(records: Sequence[FeedRecord], run: PipelineRun) -> list[float]:
    """Seconds from each record's publish to the first poll that showed its whole bucket (see FRESHNESS_METHOD)."""
    return [run.bucket_visible[r.bucket] - run.published_at[r.index] for r in records if r.bucket in run.bucket_visible]


def _pct_ms(values: Sequence[float], pct: float) -> float | None:
    return rounded(_ms(percentile(values, pct)), 0)


async def run(events: int = 20000, platforms: int = 8) -> int:
    if events < 1 or not 1 <= platforms <= 999:
        say("bench pipeline: --events must be >= 1 and --platforms between 1 and 999")
        return 2
    from services.runtime.auth import Role, issue, signing_key
    from services.runtime.settings import SharedSettings

    work = Path(tempfile.mkdtemp(prefix="redshield-bench-"))
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench{run_id}."
    var = work / "var"
    kafka = Kafka(work / "kafka")
    services: list[ServiceProcess] = []
    ok = False
    started_at = time.perf_counter()
    benchkit.start_clock()
    try:
        progress(f"bench pipeline: {events} complaints over {platforms} platforms; work dir {work}; topic prefix {prefix}")
        external = bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
        bootstrap = await kafka.start()
        progress(f"kafka: {bootstrap} ({'KAFKA_BOOTSTRAP_SERVERS' if external else 'started for this run'})")

        # Days of received_at, all in the past and apart: warm-up, then the burst's buckets, then the paced ones.
        pids = platform_ids(platforms)
        today = datetime.now(CHINA_TIME).date()
        warm_day = today - timedelta(days=2 * MAX_BUCKETS + 14)
        buckets = Buckets.plan(events, warm_day + timedelta(days=2))
        paced_first_day = today - timedelta(days=MAX_BUCKETS + 6)
        records = feed_records(events, pids, buckets, run_id, seed=20261120)
        warm = feed_records(len(pids), pids, Buckets((warm_day,), (0, len(pids))), f"{run_id}w", seed=1)
        scratch = prefix + "bench.raw.v1"
        await create_topics(bootstrap, [prefix + topics.feed_complaints(p) for p in pids] + [prefix + topics.CHANNEL_COMPLAINTS, scratch])

        env = {
            "REDSHIELD_VAR_DIR": str(var),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REDSHIELD_TOPIC_PREFIX": prefix,
            "REDSHIELD_CHANNEL_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'channel.db'}",
            "REDSHIELD_ANALYTICS_CLICKHOUSE_URL": f"chdb://{work / 'analytics-chdb'}",
            "REDSHIELD_LOG_JSON": "true",
        }
        shared = SharedSettings(var_dir=var)
        token = issue(signing_key(shared), role=Role.REGULATOR, subject="bench", issuer=shared.jwt_issuer)  # makes the dev key first
        channel = ServiceProcess("channel", env, work / "channel.log")
        analytics = ServiceProcess("analytics", env, work / "analytics.log")
        services += [channel, analytics]
        t0 = time.perf_counter()
        for svc in services:
            svc.spawn()
        await asyncio.gather(*(svc.ready() for svc in services))
        progress(f"channel (pid {channel.pid}, :{channel.port}) and analytics (pid {analytics.pid}, :{analytics.port}) ready in "
            f"{time.perf_counter() - t0:.1f}s")

        # -- raw limits --
        produce_s = await raw_produce(bootstrap, scratch, records)
        progress(f"raw produce: {events} records in {produce_s:.2f}s")
        consume_s = await raw_consume(bootstrap, scratch, events)
        progress(f"raw consume: {events} records in {consume_s:.2f}s")
        chdb = await asyncio.to_thread(raw_chdb, work / "bench-chdb", records, INGEST_BATCH)
        progress(f"raw chDB: {chdb.rows} rows ({chdb.events} events) inserted in {chdb.insert_s:.2f}s; processors {chdb.process_s:.2f}s")

        async with httpx.AsyncClient(base_url=analytics.url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0) as http:
            # -- warm-up: one record per platform, dated outside the measured days, through the whole path --
            warm_producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_OPTIONS)
            await warm_producer.start()
            try:
                for r in warm:
                    await warm_producer.send_and_wait(prefix + r.topic, value=r.value, key=r.key, headers=r.headers)
            finally:
                await warm_producer.stop()
            warm_s = await wait_visible(http, {"from": warm_day.isoformat(), "to": warm_day.isoformat()}, len(warm), within_s=120)
            progress(f"warm-up: {len(warm)} records visible in the cockpit after {warm_s:.2f}s")

            # -- the pipeline: a burst of N --
            cpu_pids = {"channel": channel.pid, "analytics": analytics.pid, "kafka": kafka.pid, "bench": os.getpid()}
            load0 = benchkit.load_average()
            sys0 = benchkit.system_cpu_seconds()
            cpu0 = {name: benchkit.cpu_seconds(pid) if pid else None for name, pid in cpu_pids.items()}
            result = await drive_pipeline(bootstrap, prefix, records, buckets, http, channel, analytics)
            cpu1 = {name: benchkit.cpu_seconds(pid) if pid else None for name, pid in cpu_pids.items()}
            sys1 = benchkit.system_cpu_seconds()
            load1 = benchkit.load_average()
            complete = result.all_visible is not None
            end = result.all_visible or (result.polls[-1].at if result.polls else time.perf_counter())
            wall = end - result.first_publish
            pipeline_rate = rate(result.visible, wall)

            # -- freshness at a steady half of that rate, below saturation --
            paced: PipelineRun | None = None
            pace = 0.5 * pipeline_rate if complete and pipeline_rate else None
            paced_records: list[FeedRecord] = []
            if pace:
                count = max(MAX_BUCKETS, round(pace * PACED_SECONDS))
                paced_buckets = Buckets.of_size(count, max(1, math.ceil(count / MAX_BUCKETS)), paced_first_day)
                paced_records = feed_records(count, pids, paced_buckets, f"{run_id}p", seed=7)
                progress(f"freshness: {count} records at {pace:.0f}/s (half the end-to-end rate) over {count / pace:.0f}s")
                paced = await drive_pipeline(bootstrap, prefix, paced_records, paced_buckets, http, channel, analytics, pace=pace,
                                             label="freshness: ")

        rss = {name: rounded(benchkit.peak_rss_mb(pid), 0) if pid else None for name, pid in cpu_pids.items()}
        cpu_busy: dict[str, float | None] = {}
        for name, before in cpu0.items():
            after = cpu1[name]
            cpu_busy[name] = rounded((after - before) / wall, 2) if before is not None and after is not None and wall > 0 else None
        machine_busy = rounded((sys1 - sys0) / wall, 2) if sys0 is not None and sys1 is not None and wall > 0 else None
        ours = sum(v for v in cpu_busy.values() if v is not None)
        cpu_busy["other_processes"] = rounded(max(0.0, machine_busy - ours), 2) if machine_busy is not None else None
        cpu_busy["machine"] = machine_busy

        burst_fresh = freshness_of(records, result)
        burst_lags = [p.lag_s for p in result.polls if p.lag_s is not None]
        fresh = freshness_of(paced_records, paced) if paced else []
        lags = [p.lag_s for p in paced.polls if p.lag_s is not None] if paced else []
        stages = stage_figures(result)

        produce_rate = rate(events, produce_s)
        consume_rate = rate(events, consume_s)
        insert_rows_rate = rate(chdb.rows, chdb.insert_s)
        insert_events_rate = rate(chdb.events, chdb.insert_s)
        process_rate = rate(chdb.events, chdb.process_s)
        limits = {"raw_produce": produce_rate, "raw_consume": consume_rate, "raw_chdb_insert": insert_events_rate}
        slowest = min(limits, key=lambda k: limits[k] or math.inf)
        slowest_rate = limits[slowest]
        ratio = pipeline_rate / slowest_rate if pipeline_rate and slowest_rate else None

        poll_ms = [p.seconds * 1000 for p in result.polls]
        info = benchkit.machine()
        version = benchkit.source_version()
        publish_s = result.all_acked - result.first_publish
        rows: list[tuple[str, str, str]] = [
            ("events / platforms", f"{events} / {platforms}",
             f"{platforms * PARTITIONS} feed partitions; {PARTITIONS} on channel.complaints.v1"),
            ("machine", f"{info['cpu_count']} cpu, {info['memory_gb']} GB", f"{info['cpu_model']}; code at {version}"),
            ("raw limits (same broker, same box)", "", ""),
            ("  aiokafka produce", _fmt(produce_rate), f"records/s; acks=all, idempotent, linger 5 ms, pipelined, {PARTITIONS} partitions"),
            ("  aiokafka consume", _fmt(consume_rate), "records/s; group-less consumer from earliest"),
            ("  analytics processors", _fmt(process_rate), "events/s; processors.process() alone (CPU)"),
            ("  chDB insert", _fmt(insert_rows_rate),
             f"rows/s = {_fmt(insert_events_rate)} events/s; events+complaints rows, {chdb.batches} batch(es) of {INGEST_BATCH} events"),
            ("pipeline burst: N published at once; feed -> channel -> channel.complaints.v1 -> analytics -> cockpit", "", ""),
            ("  end to end", _fmt(pipeline_rate),
             f"complaints/s; first publish -> cockpit counts {result.visible}/{events}: {wall:.2f}s{'' if complete else ' (INCOMPLETE)'}"),
            ("  feed publish", _fmt(rate(events, publish_s)), f"records/s; all acked {publish_s:.2f}s after the first send"),
        ]
        for stage, label in (("consumed", "  channel feed consume+commit"), ("relayed", "  channel outbox relay"),
                             ("ingested", "  analytics ingest")):
            fig = stages[stage]
            rows.append((label, _fmt(fig["rate_per_s"]),
                         f"complaints/s over 10-90% of its work ({_fmt(fig['per_complaint'], 2)} records/complaint); "
                         f"{_fmt(fig['rate_while_feed_consumed_per_s'])}/s while the feed consumer worked; "
                         f"done {_fmt(fig['done_s'], 1)}s after first publish"))
        rows += [
            ("  visible latency p50 / p99", f"{_fmt(_ms(percentile(burst_fresh, 50)))} / {_fmt(_ms(percentile(burst_fresh, 99)))}",
             "ms per record, burst (mostly the backlog's wait) [1]"),
            ("  cockpit lag p50 / p99", f"{_fmt(_ms(percentile(burst_lags, 50)))} / {_fmt(_ms(percentile(burst_lags, 99)))}",
             f"ms, freshness.lag_seconds over {len(burst_lags)} polls [2]"),
            ("  cockpit response p50 / max", f"{_fmt(percentile(poll_ms, 50))} / {_fmt(max(poll_ms) if poll_ms else None)}",
             f"ms, GET /v1/cockpits/governance while ingesting, {len(poll_ms)} polls"),
            ("  pipeline / slowest raw limit", _fmt(ratio, 3), f"slowest raw limit: {slowest}"),
            (f"freshness at half load ({_fmt(pace)} complaints/s for {PACED_SECONDS:.0f}s)", "", ""),
            ("  freshness p50 / p99", f"{_fmt(_ms(percentile(fresh, 50)))} / {_fmt(_ms(percentile(fresh, 99)))}",
             f"ms per record, publish -> counted in the cockpit, {len(fresh)} records [1]"),
            ("  cockpit lag p50 / p99", f"{_fmt(_ms(percentile(lags, 50)))} / {_fmt(_ms(percentile(lags, 99)))}",
             f"ms, freshness.lag_seconds over {len(lags)} polls [2]"),
            ("resources (during the burst)", "", ""),
            ("  peak RSS", " / ".join(_fmt(rss[k]) for k in ("channel", "analytics", "kafka", "bench")),
             "MB (VmHWM) channel / analytics / kafka / bench"),
            ("  CPU busy", " / ".join(_fmt(cpu_busy[k], 2) for k in ("channel", "analytics", "kafka", "bench", "other_processes")),
             f"cores of {info['cpu_count']}: channel / analytics / kafka / bench / other processes on the box"),
            ("  load average", f"{_fmt(load0, 1)} -> {_fmt(load1, 1)}", "1-minute, at the start and end of the burst"),
        ]
        say("")
        say(benchkit.table(
            f"redshield bench pipeline  (events={events}, platforms={platforms})",
            rows,
            footnotes=[f"[1] {FRESHNESS_METHOD.format(interval=int(POLL_INTERVAL_S * 1000))}", f"[2] {LAG_METHOD}",
                       f"Stage rates come from the services' own /metrics counters, sampled every {int(METRICS_INTERVAL_S * 1000)} ms: "
                       "channel's feed consumer (records), its outbox relay (events, every topic) and analytics' ingest consumer "
                       "(events), each in complaints/s (its work over N). "
                       "Raw chDB runs in the bench process, on a data path of its own.",
                       "Freshness at half load: after the burst, records are published at half the measured end-to-end rate, "
                       f"in buckets of about {PACED_WINDOW_S * 1000:.0f} ms of publish time."],
        ))
        figures: dict[str, Any] = {
            "events": events,
            "platforms": platforms,
            "complete": complete,
            "visible": result.visible,
            "pipeline_seconds": rounded(wall, 3),
            "pipeline_complaints_per_s": rounded(pipeline_rate),
            "freshness_p50_ms": _pct_ms(fresh, 50),
            "freshness_p99_ms": _pct_ms(fresh, 99),
            "freshness_load_complaints_per_s": rounded(pace),
            "cockpit_lag_p50_ms": _pct_ms(lags, 50),
            "cockpit_lag_p99_ms": _pct_ms(lags, 99),
            "burst_visible_latency_p50_ms": _pct_ms(burst_fresh, 50),
            "burst_visible_latency_p99_ms": _pct_ms(burst_fresh, 99),
            "burst_cockpit_lag_p50_ms": _pct_ms(burst_lags, 50),
            "burst_cockpit_lag_p99_ms": _pct_ms(burst_lags, 99),
            "cockpit_response_p50_ms": rounded(percentile(poll_ms, 50), 1),
            "feed_publish_records_per_s": rounded(rate(events, publish_s)),
            "stage_rates_per_s": {k: rounded(stages[v]["rate_per_s"]) for k, v in STAGES.items()},
            "stage_done_s": {k: rounded(stages[v]["done_s"], 2) for k, v in STAGES.items()},
            "stage_records_per_complaint": {k: rounded(stages[v]["per_complaint"], 2) for k, v in STAGES.items()},
            "stage_rates_while_feed_consumed_per_s": {k: rounded(stages[v]["rate_while_feed_consumed_per_s"]) for k, v in STAGES.items()},
            "raw_produce_records_per_s": rounded(produce_rate),
            "raw_consume_records_per_s": rounded(consume_rate),
            "raw_processor_events_per_s": rounded(process_rate),
            "raw_chdb_insert_rows_per_s": rounded(insert_rows_rate),
            "raw_chdb_insert_events_per_s": rounded(insert_events_rate),
            "slowest_raw_limit": slowest,
            "pipeline_vs_slowest_raw_limit": rounded(ratio, 4),
            "peak_rss_mb": rss,
            "cpu_cores_busy": cpu_busy,
            "load_average_1m": [load0, load1],
            "cpu_count": info["cpu_count"],
            "memory_gb": info["memory_gb"],
            "bench_wall_s": rounded(time.perf_counter() - started_at, 1),
            "code_version": version,
        }
        ok = complete and (paced is None or paced.all_visible is not None)
        say(benchkit.json_line(figures))
        return 0 if ok else 1
    finally:
        for svc in services:
            await _cleanup(f"stop {svc}", svc.stop())
        if kafka.bootstrap and not kafka.started:
            # A broker we did not start keeps running: remove this run's topics from it.
            await _cleanup("delete this run's topics", asyncio.wait_for(delete_topics(kafka.bootstrap, prefix), 30))
        await _cleanup("stop kafka", kafka.stop())
        if ok and not os.environ.get("REDSHIELD_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"bench pipeline: logs and data kept in {work}", file=sys.stderr, flush=True)


async def _cleanup(what: str, step: Any) -> None:
    """Clean-up goes on past a failing step, but says which one failed."""
    try:
        await step
    except Exception as exc:
        print(f"bench pipeline: could not {what}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
