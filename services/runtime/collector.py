"""CPython's cycle collector, set by analytics (the service that makes the most short-lived objects per batch)."""

from __future__ import annotations

import gc

_tuned = False


#: Net allocations of tracked objects between two young collections (CPython's default: 700).
YOUNG_THRESHOLD = 1_000_000


def tune_collector() -> None:
    """Once per process: collect, freeze what start-up made, and collect the young generation every 1,000,000
    allocations instead of 700.

    A consumer batch of 5,000 events makes a few hundred thousand short-lived objects. At the default thresholds the
    collector runs hundreds of times per batch and every older-generation pass walks the whole heap, start-up's
    modules, engines and apps included, though none of it is garbage. Measured (docs/performance.md): analytics'
    ``Ingest.handle`` 126–134 → 99–117 µs per event, envelope parsing 40 → 25–32 µs; bridge's upload path did not
    move beyond the noise (9,154–9,807 rows/s without, 9,754–9,799 with, 200,000 stores on PostgreSQL). Objects are
    still freed by reference counting; only cycles wait a little longer. Once per process, so a process that starts
    several services (the tests) freezes only what the first start left alive.

    Why a million and not 50,000 (session 9): a young collection walks every tracked object made since the last one
    that is still alive, and a busy ingest holds ~17 an event in the batches in hand (the fetched records and their
    headers, envelopes, deliveries, positions, the ledger's complaints) — ~1,000,000 across the batch fetched ahead,
    the one prepared and the one written. Every 50,000 allocations the collector walked them again and again and
    found nothing to free: 76 young and 4 middle collections per 200,000 events took 1.3 s of the event loop's
    ~7.2 s. Every 1,000,000: two collections, ~0.5 s. Garbage cycles (rare here) wait for at most a million
    allocations."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)
