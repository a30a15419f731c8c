"""CPython's cycle collector, set by analytics (the service that makes the most short-lived objects per batch)."""

from __future__ import annotations

import gc

_tuned = False


def tune_collector() -> None:
    """Once per process: collect, freeze what start-up made, and collect the young generation every 50,000
    allocations instead of 700.

    A consumer batch of 5,000 events makes a few hundred thousand short-lived objects. At the default thresholds the
    collector runs hundreds of times per batch and every older-generation pass walks the whole heap, start-up's
    modules, engines and apps included, though none of it is garbage. Measured (docs/performance.md): analytics'
    ``Ingest.handle`` 126–134 → 99–117 µs per event, envelope parsing 40 → 25–32 µs; bridge's upload path did not
    move beyond the noise (9,154–9,807 rows/s without, 9,754–9,799 with, 200,000 stores on PostgreSQL). Objects are
    still freed by reference counting; only cycles wait a little longer. Once per process, so a process that starts
    several services (the tests) freezes only what the first start left alive."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
