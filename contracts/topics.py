"""The topic registry: every topic name and pattern the services use, in one place."""

from __future__ import annotations

import re
from typing import Final

CHANNEL_COMPLAINTS: Final = "channel.complaints.v1"
ENFORCEMENT_CASES: Final = "enforcement.cases.v1"
ENFORCEMENT_EVIDENCE: Final = "enforcement.evidence.v1"
ENFORCEMENT_INSPECTIONS: Final = "enforcement.inspections.v1"
COLLAB_ASSISTANCE: Final = "collab.assistance.v1"
COLLAB_DISPOSALS: Final = "collab.disposals.v1"
BRIDGE_SUBJECTS: Final = "bridge.subjects.v1"
BRIDGE_REPORTS: Final = "bridge.reports.v1"
BRIDGE_DATAREQUESTS: Final = "bridge.datarequests.v1"
BRIDGE_FAIRONLINE: Final = "bridge.faironline.v1"
ANALYTICS_WARNINGS: Final = "analytics.warnings.v1"

#: Internal topics analytics ingests: every event the services publish.
INTERNAL_TOPICS: Final[tuple[str, ...]] = (
    CHANNEL_COMPLAINTS,
    ENFORCEMENT_CASES,
    ENFORCEMENT_EVIDENCE,
    ENFORCEMENT_INSPECTIONS,
    COLLAB_ASSISTANCE,
    COLLAB_DISPOSALS,
    BRIDGE_SUBJECTS,
    BRIDGE_REPORTS,
    BRIDGE_DATAREQUESTS,
    BRIDGE_FAIRONLINE,
    ANALYTICS_WARNINGS,
)

PLATFORM_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")

#: Every platform's complaint feed; channel subscribes by pattern so new platforms join without a restart.
FEED_COMPLAINTS_PATTERN: Final = r"feed\.[A-Za-z0-9][A-Za-z0-9_-]{0,31}\.complaints\.v1"
FEED_ANSWERS_PATTERN: Final = r"feed\.[A-Za-z0-9][A-Za-z0-9_-]{0,31}\.answers\.v1"
_FEED_TOPIC_RE: Final = re.compile(r"feed\.(?P<platform>[A-Za-z0-9][A-Za-z0-9_-]{0,31})\.(?P<kind>complaints|answers)\.v1")


def feed_complaints(platform_id: str) -> str:
    return f"feed.{_checked(platform_id)}.complaints.v1"


def feed_answers(platform_id: str) -> str:
    return f"feed.{_checked(platform_id)}.answers.v1"


def notify(platform_id: str) -> str:
    return f"notify.{_checked(platform_id)}.v1"


def region(region_code: str) -> str:
    if not re.fullmatch(r"[0-9]{6}", region_code):
        raise ValueError(f"region code must be 6 digits, got {region_code!r}")
    return f"region.{region_code}.v1"


def dlq(consumer_group: str) -> str:
    return f"dlq.{consumer_group}.v1"


def platform_of_feed_topic(topic: str) -> str | None:
    """The platform a feed topic belongs to: the topic name is what authenticates the platform."""
    match = _FEED_TOPIC_RE.fullmatch(topic)
    return match.group("platform") if match else None


def _checked(platform_id: str) -> str:
    if not PLATFORM_ID_RE.fullmatch(platform_id):
        raise ValueError(f"invalid platform id {platform_id!r}")
    return platform_id
