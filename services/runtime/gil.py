"""How often CPython hands the GIL between threads, set by analytics (a Python thread and a chDB thread)."""

from __future__ import annotations

import sys

#: Seconds a thread may hold the GIL while another waits for it (CPython's default: 0.005).
SWITCH_INTERVAL_S = 0.0005


def hand_off_often() -> None:
    """analytics makes the next batch's rows on the event loop (pure Python, never releasing the GIL) while a
    worker thread writes the previous batch through chDB, which releases the GIL inside each call and needs it back
    between calls — about ten times per ledger lookup. At the default interval each of those waits up to 5 ms for the
    busy loop thread: a lookup that takes ~9 ms alone took ~50 ms beside it, 15 ms at 0.5 ms. Measured in the
    pipeline (docs/performance.md): the writer's lookups 2.3 → 1.1 s per 200,000 events, ingest ÷ raw insert
    limit 0.46–0.51 → 0.54–0.57. The cost is a little more switching for the loop thread."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
