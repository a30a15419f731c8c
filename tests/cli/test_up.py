"""``redshield up`` as a user runs it: five service processes, the demo feed counted in the cockpit, and a Ctrl-C
that stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.cli import demo
from services.cli.demo import CHINA_TIME
from services.runtime.settings import SERVICES
from tests.kafka_broker import ROOT, free_port

BANNER_END = "Ctrl-C stops everything."


class Output:
    """stdout+stderr of the process, read line by line on a thread so the test can wait for a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, needle: str, timeout: float, proc: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(needle in line for line in self.lines):
                if proc.poll() is not None and not self._thread.is_alive():
                    raise AssertionError(f"redshield up exited with {proc.returncode} before {needle!r}:\n{self.text}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {needle!r} after {timeout}s:\n{self.text}")
                self._changed.wait(min(left, 0.5))

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment or command line mentions ``marker`` (our own test's var dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "environ").read_bytes() + (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in blob and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_up_runs_five_processes_feeds_the_demo_and_stops_them_all_on_ctrl_c(kafka_bootstrap: str, prefix: str, tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDSHIELD_VAR_DIR": str(var_dir),
        "REDSHIELD_TOPIC_PREFIX": prefix,
        **{f"REDSHIELD_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    proc = subprocess.Popen([sys.executable, "-m", "services.cli.main", "up"], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    out = Output(proc)
    pids: dict[str, int] = {}
    try:
        out.wait_for(BANNER_END, timeout=240, proc=proc)
        text = out.text

        processes = re.search(r"^\s+processes\s+(.+)$", text, re.MULTILINE)
        assert processes, text
        pids = {name: int(pid) for name, pid in re.findall(r"(\w+)=(\d+)", processes.group(1))}
        assert set(pids) == {*SERVICES, "up"}, pids  # the broker was given: up started no Kafka
        assert pids["up"] == proc.pid
        for name, port in ports.items():
            assert re.search(rf"^\s+{name}\s+ready\s+http://127\.0\.0\.1:{port}$", text, re.MULTILINE), text
            assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).status_code == 200
            assert (var_dir / "logs" / f"{name}.log").stat().st_size > 0

        sent = re.search(r"^demo: sent (\d+) complaints \((\d+) via HTTP, (\d+) via feed\)$", text, re.MULTILINE)
        assert sent, text
        total, via_http, via_feed = map(int, sent.groups())
        assert total == 60 and via_http > 0 and via_feed > 0

        token = re.search(r"export REGULATOR=(\S+)", text)
        assert token, text
        today = datetime.now(CHINA_TIME).date()
        params = {"from": (today - timedelta(days=15)).isoformat(), "to": today.isoformat()}
        def governance() -> dict[str, Any]:
            answer = httpx.get(f"http://127.0.0.1:{ports['analytics']}/v1/cockpits/governance", params=params,
                               headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=10)
            assert answer.status_code == 200, answer.text
            counted: dict[str, Any] = answer.json()["complaints"]
            return counted

        # The first load reaches the cockpit; then the live stream keeps adding complaints received now.
        deadline = time.monotonic() + 90
        counted = governance()
        while counted["total"] < total and time.monotonic() < deadline:
            time.sleep(0.5)
            counted = governance()
        assert counted["total"] >= total, counted
        assert {p["platform_id"] for p in counted["by_platform"]} >= {i.platform_id for i in demo.filings(total, world="hangzhou")}
        first = counted["total"]
        deadline = time.monotonic() + 60
        while counted["total"] <= first and time.monotonic() < deadline:
            time.sleep(1)
            counted = governance()
        assert counted["total"] > first, (first, counted["total"])
        assert "demo live: about" in out.text

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, out.text
        out.join(5)
        assert "SIGINT: stopping everything" in out.text
        for name in SERVICES:
            assert re.search(rf"^\s+{name}\s+stopped$", out.text, re.MULTILINE), out.text
        assert [name for name, pid in pids.items() if _alive(pid)] == []
        assert _processes_with(str(var_dir)) == []
        # Each service stopped gracefully (its lifespan ran to the end), not by SIGKILL.
        for name in SERVICES:
            assert "Application shutdown complete" in (var_dir / "logs" / f"{name}.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in {*pids.values(), *_processes_with(str(var_dir))}:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
