"""The real Kafka broker the tests run against: the one named by KAFKA_BOOTSTRAP_SERVERS, or our own
Apache Kafka from deploy/kafka started on a free port for this test session."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def kafka(data_dir: Path) -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    port = free_port()
    started = subprocess.run(
        ["bash", str(KAFKA_SH), "start", "--port", str(port), "--data", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    if started.returncode != 0:
        raise RuntimeError(f"Kafka did not start:\n{started.stderr[-4000:]}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(KAFKA_SH), "stop", "--data", str(data_dir)], capture_output=True, timeout=60)
