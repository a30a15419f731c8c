"""Events analytics publishes: risk warnings with the figures that justify them."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from contracts import topics
from contracts.events.base import EventData


class WarningRaised(EventData):
    event_type: ClassVar[str] = "redshield.analytics.warning.raised.v1"
    topic: ClassVar[str] = topics.ANALYTICS_WARNINGS
    summary: ClassVar[str] = "A risk warning: a complaint spike against its own baseline, or a hot term in complaint descriptions."

    warning_id: str
    kind: Literal["spike_platform_category", "spike_merchant", "hot_term"]
    key: list[str] = Field(description="platform_id + category, platform_id + store_id, or the term")
    day: date = Field(description="The day (China Standard Time) the figures are for")
    count: int
    baseline: float = Field(description="Mean daily count of the baseline window, or the expected count of a term")
    z: float
    p_value: float = Field(description="One-sided Poisson tail probability P(X >= count)")
    examples: list[str] = Field(description="Example complaint ids")
    raised_at: datetime
