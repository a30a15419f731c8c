"""``redshield up``: Kafka, the five services as separate processes, a demo feed; Ctrl-C stops everything.

- Kafka is the one ``KAFKA_BOOTSTRAP_SERVERS`` names, or our own single-node broker from ``deploy/kafka/kafka.sh``
  with its data in ``<var>/kafka`` (port 9092, or a free port when 9092 is taken), stopped again on exit.
- Each service runs as ``python -m services.cli.main serve <name>`` in a session of its own (so a Ctrl-C in the
  terminal reaches only us, and we stop the services in order), logging to ``<var>/logs/<name>.log``. On Linux
  each child also gets SIGTERM should this process die without cleaning up (``PR_SET_PDEATHSIG``).
- On SIGINT, SIGTERM or SIGHUP every service gets SIGTERM (a graceful stop: consumers leave their groups, the
  outbox relay drains), then SIGKILL after 20 s. A second Ctrl-C skips the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any, Final

from services.runtime.settings import SERVICES

KAFKA_SH: Final = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "kafka.sh"
DEFAULT_KAFKA_PORT: Final = 9092
READY_TIMEOUT: Final = 120.0
STOP_GRACE: Final = 20.0
DEMO_COMPLAINTS: Final = 60
#: After the first load: new complaints a minute, received now (the cockpit's today fills while you watch).
LIVE_PER_MINUTE: Final = 24
CHINA_TIME: Final = timezone(timedelta(hours=8))
#: Marker in the Kafka data dir: which ``up`` process started the broker there.
STARTED_BY: Final = "started-by-redshield-up"


class Failed(Exception):
    """Start-up could not go on; the message says why (and what to do)."""


def _say(*lines: str) -> None:
    # After SIGHUP the terminal may be gone; shutting down matters more than telling about it.
    with contextlib.suppress(OSError, ValueError):
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------------- signals


class Stop:
    """SIGINT, SIGTERM and SIGHUP set a flag the supervisor polls; the handlers do nothing else."""

    SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.event = threading.Event()
        self.count = 0
        self.reason = ""
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if not self.reason:
            self.reason = signal.Signals(signum).name
        self.event.set()

    def set(self, reason: str) -> None:
        if not self.reason:
            self.reason = reason
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGTERM the child when we die (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # we died between fork and prctl
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


# ---------------------------------------------------------------------------------------------- Kafka


@dataclass
class Kafka:
    bootstrap: str
    #: Data dir of the broker we run (and stop on exit); None when the broker is someone else's.
    data_dir: Path | None = None
    pid: int | None = None
    note: str = ""


def _kafka_status(data_dir: Path) -> tuple[int, int] | None:
    """(pid, port) of a broker running (and answering) on ``data_dir``."""
    answer = subprocess.run(["bash", str(KAFKA_SH), "status", "--data", str(data_dir)], check=False, capture_output=True,
                            text=True, timeout=30)
    match = re.search(r"^running pid=(\d+) KAFKA_BOOTSTRAP_SERVERS=127\.0\.0\.1:(\d+)", answer.stdout, re.MULTILINE)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _broker_pid(data_dir: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int((data_dir / "kafka.pid").read_text().strip())
    return None


def start_kafka(var_dir: Path, stop: Stop) -> Kafka:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if given:
        host, _, given_port = given.split(",")[0].strip().rpartition(":")
        if not given_port.isdigit() or not _port_open(int(given_port), host or "127.0.0.1"):
            raise Failed(f"KAFKA_BOOTSTRAP_SERVERS={given}, but nothing answers on {host or '127.0.0.1'}:{given_port}. "
                         "Start that broker, or unset KAFKA_BOOTSTRAP_SERVERS to let `redshield up` run one.")
        return Kafka(given, note="from KAFKA_BOOTSTRAP_SERVERS, left running on exit")

    data_dir = var_dir / "kafka"
    marker = data_dir / STARTED_BY
    running = _kafka_status(data_dir)
    if running is not None:
        pid, port = running
        with contextlib.suppress(OSError, ValueError):
            owner = int(marker.read_text().strip())
            if not _pid_alive(owner):
                # An earlier `up` that died without cleaning up: adopt its broker, and stop it on exit.
                marker.write_text(str(os.getpid()))
                return Kafka(f"127.0.0.1:{port}", data_dir, pid, note=f"adopted from an earlier run, data {data_dir}")
        return Kafka(f"127.0.0.1:{port}", None, pid, note=f"already running on {data_dir}, left running on exit")

    port = DEFAULT_KAFKA_PORT if not _port_open(DEFAULT_KAFKA_PORT) else _free_port()
    if port != DEFAULT_KAFKA_PORT:
        _say(f"  kafka        port {DEFAULT_KAFKA_PORT} is taken: using {port}")
    _say(f"  kafka        starting Apache Kafka on 127.0.0.1:{port} (data {data_dir}; the first run fetches its jars from Maven Central)")
    data_dir.mkdir(parents=True, exist_ok=True)
    # Its own session: a Ctrl-C in the terminal must not kill the script half-way, we stop it ourselves.
    proc = subprocess.Popen(["bash", str(KAFKA_SH), "start", "--port", str(port), "--data", str(data_dir)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, start_new_session=True)
    while proc.poll() is None:
        if stop.wait(0.2):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            stop_kafka(Kafka("", data_dir))
            raise Failed(f"interrupted ({stop.reason}) while Kafka was starting")
    out = proc.stdout.read() if proc.stdout else ""
    match = re.search(r"KAFKA_BOOTSTRAP_SERVERS=(\S+)", out)
    if proc.returncode != 0 or not match:
        stop_kafka(Kafka("", data_dir))
        raise Failed(f"Kafka did not start (kafka.sh exit code {proc.returncode}); see the lines above and {data_dir / 'kafka.log'}")
    marker.write_text(str(os.getpid()))
    return Kafka(match.group(1), data_dir, _broker_pid(data_dir), note=f"started here, data {data_dir}")


def stop_kafka(kafka: Kafka) -> None:
    if kafka.data_dir is None:
        return
    subprocess.run(["bash", str(KAFKA_SH), "stop", "--data", str(kafka.data_dir)], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120, check=False)
    (kafka.data_dir / STARTED_BY).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- services


@dataclass
class Child:
    name: str
    host: str
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes]
    ready: bool = False
    last_answer: str = field(default="no answer yet")

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid


def _tail(path: Path, lines: int = 15) -> list[str]:
    """The end of a service log, JSON records shown as ``LEVEL logger: message`` (plus the exception's end)."""
    import orjson

    try:
        raw = path.read_bytes()[-64_000:].decode(errors="replace").splitlines()[-lines:]
    except OSError as exc:
        return [f"    (cannot read {path}: {exc})"]
    out: list[str] = []
    for line in raw:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            out.append(f"    {line}")
            continue
        if not isinstance(record, dict):
            out.append(f"    {line}")
            continue
        out.append(f"    {record.get('level', '')} {record.get('logger', '')}: {record.get('msg', '')}")
        trace = record.get("exc")
        if isinstance(trace, str):
            out.extend(f"      {part}" for part in trace.strip().splitlines()[-4:])
    return out or ["    (empty)"]


def spawn_services(env: dict[str, str], logs_dir: Path, children: list[Child]) -> None:
    """Start every service, appending each to ``children`` as soon as it runs (so a failure half-way stops them)."""
    from services.runtime.settings import ServiceSettings, load

    planned = []
    for name in SERVICES:
        settings: ServiceSettings = load(name)
        probe_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        if _port_open(settings.port, probe_host):
            raise Failed(f"port {settings.port} for {name} is already in use (another `redshield up`?). "
                         f"Stop that, or choose another port: REDSHIELD_{name.upper()}_PORT=<port>.")
        planned.append((name, settings.host, settings.port))
    logs_dir.mkdir(parents=True, exist_ok=True)
    preexec = _die_with_parent()
    for name, host, port in planned:
        log_path = logs_dir / f"{name}.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", "serve", name],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=preexec,
            )
        children.append(Child(name, host, port, log_path, proc))
        _say(f"  {name:<12} started  pid {proc.pid}, log {log_path}")


def wait_ready(children: list[Child], stop: Stop, timeout: float = READY_TIMEOUT) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while True:
            for child in children:
                code = child.proc.poll()
                if code is not None:
                    raise Failed("\n".join([f"{child.name} exited with code {code} before it was ready; the end of {child.log_path}:",
                                            *_tail(child.log_path)]))
            for child in children:
                if child.ready:
                    continue
                try:
                    answer = http.get(f"{child.url}/readyz")
                except httpx.HTTPError as exc:
                    child.last_answer = f"{type(exc).__name__}: {exc}"
                    continue
                if answer.status_code == 200:
                    child.ready = True
                    _say(f"  {child.name:<12} ready    {child.url}")
                else:
                    child.last_answer = f"HTTP {answer.status_code} {answer.text[:300]}"
            if all(c.ready for c in children):
                return
            if time.monotonic() > deadline:
                lines = [f"not ready after {timeout:.0f} s:"]
                for child in children:
                    if not child.ready:
                        lines += [f"  {child.name}: /readyz → {child.last_answer}; the end of {child.log_path}:", *_tail(child.log_path, 8)]
                raise Failed("\n".join(lines))
            if stop.wait(0.25):
                raise Failed(f"interrupted ({stop.reason}) while the services were starting")


def stop_services(children: list[Child], stop: Stop, grace: float = STOP_GRACE) -> None:
    """SIGTERM each service's process group, wait up to ``grace`` s (less on a second Ctrl-C), then SIGKILL."""
    alive = [c for c in children if c.proc.poll() is None]
    if alive:
        _say(f"stopping {', '.join(c.name for c in alive)} …")
    for child in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGTERM)
    signals_seen = stop.count
    deadline = time.monotonic() + grace
    while any(c.proc.poll() is None for c in alive) and time.monotonic() < deadline:
        if stop.count > signals_seen:
            _say("second signal: killing what is left")
            break
        time.sleep(0.1)
    for child in children:
        if child.proc.poll() is None:
            _say(f"  {child.name:<12} did not stop in time: SIGKILL")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(timeout=10)
        # Anything the service started in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
    for child in alive:
        rc = child.proc.returncode
        # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done: -15 is a clean stop.
        how = "stopped" if rc in (0, -signal.SIGTERM) else "killed" if rc == -signal.SIGKILL else f"exited with code {rc}"
        _say(f"  {child.name:<12} {how}")


# ---------------------------------------------------------------------------------------------- demo, banner


async def _demo(channel_url: str, bridge_url: str, stop: Stop) -> int | None:
    from services.cli import demo

    # The Hangzhou world: 110 platforms (15 on the canal), ~5,000 stores, complaints and platform answers.
    task = asyncio.create_task(demo.run(complaints=DEMO_COMPLAINTS, channel_url=channel_url, world="hangzhou", bridge_url=bridge_url))
    while not task.done():
        await asyncio.wait({task}, timeout=0.2)
        if stop.is_set() and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
    return task.result()


def _live_demo(channel_url: str, stop: Stop) -> threading.Thread:
    """After the first load, the world stays alive: new complaints every few seconds until Ctrl-C."""
    from services.cli import demo

    def stream() -> None:
        try:
            asyncio.run(demo.live(channel_url, world="hangzhou", per_minute=LIVE_PER_MINUTE, stopped=stop.is_set))
        except Exception as exc:  # the services keep running without the stream; say why it stopped
            _say(f"demo live: stopped: {exc!r}")

    thread = threading.Thread(target=stream, name="demo-live", daemon=True)
    thread.start()
    _say(f"demo live: about {LIVE_PER_MINUTE} new complaints a minute, now and then a burst on one platform (Ctrl-C stops)")
    return thread


def banner(children: list[Child], kafka: Kafka, var_dir: Path) -> list[str]:
    from services.runtime.auth import Role, issue, signing_key
    from services.runtime.settings import SharedSettings

    shared = SharedSettings()
    key = signing_key(shared)
    platform = issue(key, role=Role.PLATFORM, subject="platform:P001", platform_id="P001", issuer=shared.jwt_issuer)
    regulator = issue(key, role=Role.REGULATOR, subject="regulator:dev", issuer=shared.jwt_issuer)
    by_name = {c.name: c for c in children}
    today = datetime.now(CHINA_TIME).date()
    cockpit = (f"{by_name['analytics'].url}/v1/cockpits/governance"
               f"?from={(today - timedelta(days=13)).isoformat()}&to={today.isoformat()}")
    prefix = os.environ.get("REDSHIELD_TOPIC_PREFIX", "")
    pids = " ".join(f"{c.name}={c.pid}" for c in children) + (f" kafka={kafka.pid}" if kafka.data_dir is not None and kafka.pid else "")
    rule = "─" * 100
    lines = [
        "",
        rule,
        "redshield is up",
        "",
        f"  {'service':<12} {'URL':<24} {'OpenAPI':<30} metrics",
    ]
    for c in children:
        lines.append(f"  {c.name:<12} {c.url:<24} {c.url + '/docs':<30} {c.url}/metrics")
    lines += [
        "",
        f"  kafka        {kafka.bootstrap} ({kafka.note})" + (f", topic prefix {prefix!r}" if prefix else ""),
        f"  state        {var_dir} (SQLite per service, chDB for analytics)",
        f"  logs         {var_dir / 'logs'}/<service>.log",
        f"  processes    {pids} up={os.getpid()}",
        "",
        "Dev tokens (valid 12 h; more with `redshield token --role …`, same REDSHIELD_VAR_DIR):",
        f"  export PLATFORM={platform}",
        f"  export REGULATOR={regulator}",
        "",
        "Cockpit page (open in a browser; the token stays in the tab):",
        f"  {by_name['analytics'].url}/cockpit?token={regulator}",
        "",
        "Governance cockpit, last 14 days, as the regulator:",
        f"  curl -s -H \"Authorization: Bearer $REGULATOR\" '{cockpit}'",
        "File a complaint as platform P001:",
        (f"  curl -s -X POST -H \"Authorization: Bearer $PLATFORM\" -H 'content-type: application/json' "
         f"-d @complaint.json {by_name['channel'].url}/v1/complaints"),
        "",
        "Ctrl-C stops everything.",
        rule,
    ]
    return lines


# ---------------------------------------------------------------------------------------------- run


def run(demo: bool = True) -> int:
    from services.runtime.settings import SharedSettings

    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    stop = Stop()
    stop.install()
    var_dir = Path(SharedSettings().var_dir).resolve()
    # Children and the in-process demo see the same absolute state dir, whatever their working directory.
    os.environ["REDSHIELD_VAR_DIR"] = str(var_dir)
    kafka: Kafka | None = None
    children: list[Child] = []
    code = 0
    try:
        _say(f"redshield up: state in {var_dir}")
        var_dir.mkdir(parents=True, exist_ok=True)
        kafka = start_kafka(var_dir, stop)
        _say(f"  kafka        ready    {kafka.bootstrap} ({kafka.note})")
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap
        from services.runtime.auth import signing_key

        signing_key(SharedSettings())  # make the dev key once, before five processes race to
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("REDSHIELD_LOG_JSON", "true")
        spawn_services(env, var_dir / "logs", children)
        wait_ready(children, stop)
        if demo and not stop.is_set():
            channel = next(c for c in children if c.name == "channel")
            _say("", "Demo feed:")
            bridge = next(c for c in children if c.name == "bridge")
            result = asyncio.run(_demo(channel.url, bridge.url, stop))
            if result not in (0, None):
                _say("demo: some complaints were not sent (see above); the services keep running")
        if not stop.is_set():
            _say(*banner(children, kafka, var_dir))
        streaming: threading.Thread | None = None
        if demo and not stop.is_set():
            streaming = _live_demo(next(c for c in children if c.name == "channel").url, stop)
        while not stop.is_set():
            for child in children:
                if child.proc.poll() is not None:
                    _say(f"{child.name} exited unexpectedly with code {child.proc.returncode}; the end of {child.log_path}:",
                         *_tail(child.log_path))
                    stop.set(f"{child.name} exited")
                    code = 1
                    break
            stop.wait(0.5)
        if code == 0:
            _say("", f"{stop.reason}: stopping everything")
        if streaming is not None:
            streaming.join(timeout=15)
    except Failed as exc:
        _say(f"redshield up: {exc}")
        # Stopped on request while starting: a clean stop, not a failure.
        code = 0 if stop.count and stop.is_set() and "interrupted" in str(exc) else 1
    finally:
        try:
            stop_services(children, stop)
            if kafka is not None and kafka.data_dir is not None:
                _say(f"stopping Kafka ({kafka.data_dir}) …")
                stop_kafka(kafka)
                _say("  kafka        stopped")
        finally:
            stop.restore()
    _say("bye")
    return code
