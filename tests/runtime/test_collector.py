"""The collector is set once per process: start-up's objects frozen, young collections every 1,000,000 allocations."""

from __future__ import annotations

import subprocess
import sys

from tests.kafka_broker import ROOT

PROBE = """
import gc
from services.runtime.collector import tune_collector
before = gc.get_threshold()
tune_collector()
frozen = gc.get_freeze_count()
made_since = [[n] for n in range(10_000)]
tune_collector()  # a second service started in the same process
print(before, gc.get_threshold(), frozen > 0, gc.get_freeze_count() == frozen)
"""


def test_start_up_objects_are_frozen_and_young_collections_come_every_million_allocations_once_per_process() -> None:
    # In a fresh interpreter: this test process's own collector has been set by the services the suite started.
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(700,", "10,", "10)", "(1000000,", "20,", "100)", "True", "True"]
