"""Helpers every ``redshield bench`` shares: processes it starts (Kafka, services), /proc readings (peak RSS,
CPU time), percentiles, a plain-text table, progress lines and the JSON line a benchmark ends with.

Nothing here imports a service: benchmarks measure the services from the outside, as separate processes.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# -- output ---------------------------------------------------------------------------------------------------
_STARTED: list[float] = []


def start_clock() -> None:
    """From now on, :func:`progress` lines carry the seconds since this call."""
    _STARTED[:] = [time.perf_counter()]


def say(line: str) -> None:
    """One line of output, flushed at once (a benchmark's output is read while it runs)."""
    print(line, flush=True)


def progress(line: str) -> None:
    """A progress line, stamped with the seconds since :func:`start_clock`."""
    say(f"[{time.perf_counter() - _STARTED[0]:6.1f}s] {line}" if _STARTED else line)


def table(title: str, rows: Sequence[tuple[str, str, str]], *, footnotes: Sequence[str] = ()) -> str:
    """A three-column table (measure, value, note) in plain text, readable in a terminal and in a log."""
    header = ("measure", "value", "note")
    body = [r for r in rows if r[1] or r[2]]  # a row with only a measure is a section heading
    widths = [max(len(header[i]), *(len(r[i]) for r in body)) if body else len(header[i]) for i in range(3)]
    rule = "-" * (widths[0] + widths[1] + min(widths[2], 60) + 6)

    def line(cells: tuple[str, str, str]) -> str:
        if not (cells[1] or cells[2]):
            return cells[0]
        return f"{cells[0]:<{widths[0]}}   {cells[1]:>{widths[1]}}   {cells[2]}".rstrip()

    out = [title, rule, line(header), rule]
    out.extend(line(r) for r in rows)
    out.append(rule)
    out.extend(textwrap.fill(note, width=max(len(rule), 100), subsequent_indent="    ") for note in footnotes)
    return "\n".join(out)


def json_line(figures: Mapping[str, Any]) -> str:
    """The benchmark's last line: one JSON object, keys in snake_case carrying their unit."""
    return json.dumps(figures, ensure_ascii=False, separators=(", ", ": "))


def rounded(value: float | None, digits: int = 1) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, digits)


# -- statistics -----------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear-interpolated percentile (the ``numpy.percentile`` default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def rate(count: float, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


# -- /proc ----------------------------------------------------------------------------------------------------
def _status_kb(pid: int | str, field_name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for row in status:
                if row.startswith(field_name + ":"):
                    return int(row.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size (VmHWM) of a live process, in MiB; None when it cannot be read."""
    kb = _status_kb(pid, "VmHWM")
    return None if kb is None else kb / 1024


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command (state first); None when the process cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _cpu_of(fields: list[str]) -> float:
    # After the command: state is field 3; utime and stime are fields 14 and 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def cpu_seconds(pid: int | str = "self") -> float | None:
    """User + system CPU time a live process has used so far (its own threads, not its children)."""
    fields = _stat_fields(pid)
    return None if fields is None else _cpu_of(fields)


def processes_cpu_seconds(command_prefix: bytes) -> dict[tuple[str, str], float]:
    """CPU time (user + system) used so far by every live process whose command line starts with ``command_prefix``,
    keyed by (pid, start time): a pid reused by a new process is another key. Empty when none is visible (a
    database server on another machine)."""
    found: dict[tuple[str, str], float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                if not cmdline.read(len(command_prefix)).startswith(command_prefix):
                    continue
        except OSError:
            continue  # gone meanwhile, or not ours to read
        fields = _stat_fields(entry.name)
        if fields is not None:
            found[(entry.name, fields[19])] = _cpu_of(fields)
    return found


def cpu_used_since(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]) -> list[float]:
    """What each process of ``after`` used since ``before`` (all of it for one started since), busiest first."""
    return sorted((seconds - before.get(key, 0.0) for key, seconds in after.items()), reverse=True)


def system_cpu_seconds() -> float | None:
    """CPU time every process on the machine has used so far (all cores; from /proc/stat, idle and iowait left out)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    # guest time is already counted in user time
    return (sum(fields[:8]) - idle) / _CLOCK_TICKS


def load_average() -> float | None:
    try:
        with open("/proc/loadavg", encoding="ascii") as loadavg:
            return float(loadavg.read().split()[0])
    except (OSError, ValueError):
        return None


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    mem_kb = _meminfo_kb("MemTotal")
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for row in cpuinfo:
                if row.startswith("model name"):
                    model = row.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count() or 0,
        "cpu_model": model or platform.processor() or platform.machine(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1) if mem_kb else None,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def source_version() -> str:
    """The commit the measured code came from, ``+dirty`` when the checkout has uncommitted changes under it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--", "services", "contracts"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if commit.returncode != 0:
        return "unknown"
    return commit.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def _meminfo_kb(name: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for row in meminfo:
                if row.startswith(name + ":"):
                    return int(row.split()[1])
    except (OSError, ValueError):
        return None
    return None


# -- processes ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Kafka:
    """The broker a benchmark runs against: KAFKA_BOOTSTRAP_SERVERS when set, else one started here."""

    data_dir: Path
    bootstrap: str = ""
    started: bool = False

    async def start(self, within_s: float = 240.0) -> str:
        given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if given:
            self.bootstrap = given
            return given
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            "bash", str(KAFKA_SH), "start", "--port", str(port), "--data", str(self.data_dir),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.started = True  # from here on, stop() must run even if start fails half-way
        try:
            out, err = await asyncio.wait_for(proc.communicate(), within_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"Kafka did not start in {within_s:.0f}s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"Kafka did not start:\n{err.decode(errors='replace')[-3000:]}")
        for row in out.decode().splitlines():
            if row.startswith("KAFKA_BOOTSTRAP_SERVERS="):
                self.bootstrap = row.split("=", 1)[1].strip()
        if not self.bootstrap:
            raise RuntimeError(f"kafka.sh printed no KAFKA_BOOTSTRAP_SERVERS line: {out.decode()[-500:]}")
        return self.bootstrap

    @property
    def pid(self) -> int | None:
        """The broker JVM's pid when this benchmark started it (for its RSS and CPU time)."""
        if not self.started:
            return None
        try:
            return int((self.data_dir / "kafka.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        proc = await asyncio.create_subprocess_exec(
            "bash", str(KAFKA_SH), "stop", "--data", str(self.data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(proc.wait(), 90)
        except TimeoutError:
            proc.kill()


@dataclass
class ServiceProcess:
    """``redshield serve <name>`` as its own OS process, the way it runs in production."""

    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def spawn(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", "serve", self.name, "--port", str(self.port)],
                cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=log, start_new_session=True,
            )
        finally:
            log.close()

    async def ready(self, within_s: float = 90.0) -> None:
        """Wait for ``/readyz`` to answer 200 (database and Kafka reachable)."""
        assert self.proc is not None
        deadline = time.monotonic() + within_s
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {within_s:.0f}s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    async def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (a graceful shutdown: the relay drains), SIGKILL after ``grace`` seconds."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)


# -- Prometheus text ------------------------------------------------------------------------------------------
def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of every sample of ``name`` whose labels include ``labels`` (Prometheus text format)."""
    total = 0.0
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    for row in text.splitlines():
        if not row.startswith(name) or row.startswith("#"):
            continue
        head, _, value = row.rpartition(" ")
        metric = head.split("{", 1)[0]
        if metric != name:
            continue
        if all(w in head for w in wanted):
            try:
                total += float(value)
            except ValueError:
                continue
    return total


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete every topic whose name starts with ``prefix`` (a run's own): a broker that keeps thousands of dead topics
    makes every client decode them all on each metadata refresh."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="redshield-bench")
    await admin.start()
    try:
        ours = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
