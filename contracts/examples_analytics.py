"""Golden examples of analytics' events (merged into ``contracts.examples.GOLDEN``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from contracts.events.analytics import WarningRaised
from contracts.golden_example import Golden

_RAISED_AT: Final = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)

GOLDEN_ANALYTICS: Final[dict[str, list[Golden]]] = {
    WarningRaised.event_type: [
        Golden(
            data=WarningRaised.model_validate(
                {
                    "warning_id": "5b1e0c9d2a7f4e3b8c6d1a0f9e8d7c6b",
                    "kind": "spike_platform_category",
                    "key": ["P001", "quality"],
                    "day": "2026-11-27",
                    "count": 30,
                    "baseline": 3.0,
                    "z": 15.588,
                    "p_value": 1.2e-13,
                    "examples": ["019a9c4e-5a00-7000-8000-000000000001"],
                    "raised_at": _RAISED_AT.isoformat(),
                }
            ),
            source="/redshield/analytics",
            subject="5b1e0c9d2a7f4e3b8c6d1a0f9e8d7c6b",
            time=_RAISED_AT,
            serial=1,
            platformid="P001",
        ),
        Golden(
            data=WarningRaised.model_validate(
                {
                    "warning_id": "0c4f1e2d3b5a69788796a5b4c3d2e1f0",
                    "kind": "hot_term",
                    "key": ["过敏"],
                    "day": "2026-11-27",
                    "count": 20,
                    "baseline": 2.1,
                    "z": 12.35,
                    "p_value": 3.4e-11,
                    "examples": ["019a9c4e-5a00-7000-8000-000000000002"],
                    "raised_at": _RAISED_AT.isoformat(),
                }
            ),
            source="/redshield/analytics",
            subject="0c4f1e2d3b5a69788796a5b4c3d2e1f0",
            time=_RAISED_AT,
            serial=2,
        ),
    ],
}
