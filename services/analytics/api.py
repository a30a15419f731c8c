"""analytics' HTTP routes: the cockpits, scoped to the caller."""

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query

from contracts.codes import ComplaintCategory
from contracts.topics import PLATFORM_ID_RE
from services.analytics import cockpits
from services.analytics.clickhouse import ClickHouse
from services.analytics.ingest import Ingest
from services.analytics.warnings_job import list_warnings
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

CHINA_TIME = timezone(timedelta(hours=8))


def _bad_filter(name: str, detail: str) -> Problem:
    return Problem(
        422, "Invalid filter", f"{name}: {detail}", "https://redshield.dev/problems/validation", errors=[{"field": name, "message": detail}]
    )


def parse_moment(name: str, value: str | None, default: datetime, *, end_of_day: bool = False) -> datetime:
    """RFC 3339 with an offset, or a date (a day in China Standard Time)."""
    if value is None:
        return default
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min, CHINA_TIME)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad_filter(name, f"{value!r} is neither an RFC 3339 time with offset nor a YYYY-MM-DD date") from exc
    if moment.tzinfo is None:
        raise _bad_filter(name, "a time needs its offset, e.g. 2026-11-01T00:00:00+08:00")
    return moment


def build_router(service: Service, ch: ClickHouse, ingest: Ingest) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["cockpits"])
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    def filters(
        caller: Caller, start: str | None, end: str | None, region: str | None, platform: str | None, category: str | None
    ) -> cockpits.Filters:
        now = service.clock.now()
        f_start = parse_moment("from", start, now - timedelta(days=30))
        f_end = parse_moment("to", end, now + timedelta(seconds=1), end_of_day=True)
        if f_end <= f_start:
            raise _bad_filter("to", "must be after 'from'")
        if region is not None and not re.fullmatch(r"[0-9]{6}", region):
            raise _bad_filter("region", f"{region!r} is not a 6-digit region code")
        if platform is not None and not PLATFORM_ID_RE.fullmatch(platform):
            raise _bad_filter("platform", f"{platform!r} is not a platform id")
        if category is not None and category not in ComplaintCategory.__members__.values():
            raise _bad_filter("category", f"{category!r} is not one of {', '.join(c.value for c in ComplaintCategory)}")
        if caller.role is Role.BUREAU:
            # A bureau sees its own region; a narrower region inside it is allowed.
            assert caller.region is not None
            # By whole code levels: bureau 330110's prefix is 330110, not "33011" (which 330111, its neighbour, shares).
            own = cockpits.region_prefix(caller.region)
            if region is None or not region.startswith(own):
                region = caller.region
        return cockpits.Filters(f_start, f_end, region, platform, category)

    def freshness() -> dict[str, Any]:
        newest = ingest.newest_event_time
        return {
            "newest_event_time": newest.isoformat() if newest else None,
            "last_ingested_at": ingest.last_ingested_at.isoformat() if ingest.last_ingested_at else None,
            "lag_seconds": round((service.clock.now() - newest).total_seconds(), 3) if newest else None,
        }

    @router.get(
        "/cockpits/governance", summary="Platform governance cockpit: complaints and reports, by platform, category, region, state; trend"
    )
    async def governance(
        caller: CurrentCaller,
        start: Annotated[str | None, Query(alias="from", description="RFC 3339 time or YYYY-MM-DD (inclusive)")] = None,
        end: Annotated[str | None, Query(alias="to", description="RFC 3339 time or YYYY-MM-DD (inclusive day)")] = None,
        region: str | None = None,
        platform: str | None = None,
        category: str | None = None,
        interval: Annotated[str, Query(description="trend buckets: day, week or month")] = "day",
    ) -> dict[str, Any]:
        require_role(caller, Role.REGULATOR, Role.BUREAU, Role.ADMIN, Role.AUDITOR)
        chosen = filters(caller, start, end, region, platform, category)
        answer = await cockpits.governance(ch, chosen, checked_interval(interval))
        return finish(answer, chosen.as_dict() | {"interval": interval})

    @router.get(
        "/cockpits/overview",
        summary="Platform overview cockpit: platforms, stores, enterprise websites, new-business-form subjects, GMV and data exchanges",
    )
    async def overview(
        caller: CurrentCaller,
        region: str | None = None,
        platform: str | None = None,
        category: Annotated[str | None, Query(description="a goods category (of stores, websites, new-form subjects, sales lines)")] = None,
    ) -> dict[str, Any]:
        require_role(caller, Role.REGULATOR, Role.BUREAU, Role.ADMIN, Role.AUDITOR)
        chosen = filters(caller, None, None, region, platform, None)
        if category is not None and not 0 < len(category) <= 100:
            raise _bad_filter("category", "a goods category is 1 to 100 characters")
        answer = await cockpits.overview(ch, region=chosen.region, platform=chosen.platform, category=category)
        return finish(answer, {"region": chosen.region, "platform": chosen.platform, "category": category})

    @router.get("/cockpits/platforms/{platform_id}", summary="Platform detail cockpit: profile, complaint and first-handling trends, rates")
    async def platform_detail(
        platform_id: str,
        caller: CurrentCaller,
        start: Annotated[str | None, Query(alias="from", description="RFC 3339 time or YYYY-MM-DD (inclusive)")] = None,
        end: Annotated[str | None, Query(alias="to", description="RFC 3339 time or YYYY-MM-DD (inclusive day)")] = None,
        region: str | None = None,
        category: str | None = None,
        interval: Annotated[str, Query(description="trend buckets: day, week or month")] = "day",
    ) -> dict[str, Any]:
        if caller.role is Role.PLATFORM and caller.platform_id != platform_id:
            # Another platform's cockpit answers like a platform that does not exist.
            raise Problem(404, "Not found", f"no platform {platform_id}")
        if not PLATFORM_ID_RE.fullmatch(platform_id):
            raise _bad_filter("platform_id", f"{platform_id!r} is not a platform id")
        chosen = filters(caller, start, end, region, platform_id, category)
        answer = await cockpits.platform_detail(ch, platform_id, chosen, checked_interval(interval))
        if answer is None:
            raise Problem(404, "Not found", f"no platform {platform_id}")
        return finish(answer, chosen.as_dict() | {"interval": interval})

    def checked_interval(interval: str) -> cockpits.Interval:
        if interval not in ("day", "week", "month"):
            raise _bad_filter("interval", f"{interval!r} is not day, week or month")
        return interval  # type: ignore[return-value]

    def finish(answer: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
        answer["filters"] = applied
        answer["freshness"] = freshness()
        answer["generated_at"] = datetime.now(UTC).isoformat()
        return answer

    @router.get("/risk/warnings", summary="Risk warnings raised: spikes against each series' baseline, hot terms; each with its figures")
    async def risk_warnings(
        caller: CurrentCaller,
        start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD (China Standard Time), inclusive")] = None,
        end: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD, inclusive")] = None,
        kind: Annotated[str | None, Query(description="spike_platform_category | spike_merchant | hot_term")] = None,
        platform: str | None = None,
    ) -> dict[str, Any]:
        require_role(caller, Role.REGULATOR, Role.BUREAU, Role.ADMIN, Role.AUDITOR)
        today = service.clock.now().astimezone(CHINA_TIME).date()
        day_from = (
            parse_moment("from", start, datetime.combine(today - timedelta(days=7), time.min, CHINA_TIME)).astimezone(CHINA_TIME).date()
        )
        day_to = parse_moment("to", end, datetime.combine(today, time.min, CHINA_TIME)).astimezone(CHINA_TIME).date()
        if kind is not None and kind not in ("spike_platform_category", "spike_merchant", "hot_term"):
            raise _bad_filter("kind", f"{kind!r} is not spike_platform_category, spike_merchant or hot_term")
        if platform is not None and not PLATFORM_ID_RE.fullmatch(platform):
            raise _bad_filter("platform", f"{platform!r} is not a platform id")
        found = await list_warnings(service, day_from=day_from, day_to=day_to, kind=kind, platform=platform)
        return {
            "warnings": found,
            "filters": {"from": day_from.isoformat(), "to": day_to.isoformat(), "kind": kind, "platform": platform},
            "freshness": freshness(),
        }

    return router


def install(app: FastAPI, service: Service, ch: ClickHouse, ingest: Ingest) -> None:
    app.include_router(build_router(service, ch, ingest))
