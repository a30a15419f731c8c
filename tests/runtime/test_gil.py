"""analytics hands the GIL between threads every half millisecond instead of every five."""

from __future__ import annotations

import subprocess
import sys

from tests.kafka_broker import ROOT

PROBE = """
import sys
from services.runtime.gil import hand_off_often
before = sys.getswitchinterval()
hand_off_often()
print(before, sys.getswitchinterval())
"""


def test_the_switch_interval_goes_from_five_milliseconds_to_half_a_millisecond() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0.005", "0.0005"]
