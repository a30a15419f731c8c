"""JSON logs, one object a line, carrying the current W3C trace id."""

from __future__ import annotations

import contextvars
import logging
import os
import sys
from datetime import UTC, datetime

import orjson

trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)


def traceparent_for(trace_id: str | None = None) -> str:
    """A W3C traceparent; the trace id is kept when one is given (continuing a trace)."""
    trace = trace_id or os.urandom(16).hex()
    return f"00-{trace}-{os.urandom(8).hex()}-01"


def trace_id_of(traceparent: str | None) -> str | None:
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        trace = trace_id_var.get()
        if trace:
            payload["trace_id"] = trace
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update(extra)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()


#: aiokafka messages it logs as errors though it retries them itself and they clear within seconds: a topic created
#: by its first record (per-platform and per-region topics), a group coordinator or partition leader not elected yet
#: while the broker starts. Every service logged several at each start of `make run`; an operator's alert on ERROR
#: lines must not fire for them. A failure that lasts reaches the service as an exception, logged as ours.
_SELF_HEALING: tuple[tuple[str, str], ...] = (
    ("aiokafka.cluster", "not found in cluster metadata"),
    ("aiokafka.consumer.group_coordinator", "GroupCoordinatorNotAvailableError"),
    ("aiokafka.consumer.fetcher", "NotLeaderForPartitionError"),
)


class SelfHealingKafkaErrors(logging.Filter):
    """Logs aiokafka's self-healing errors (:data:`_SELF_HEALING`) as warnings; everything else as it comes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and record.name.startswith("aiokafka."):
            message = record.getMessage()
            if any(record.name == name and text in message for name, text in _SELF_HEALING):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def setup(service: str, level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(SelfHealingKafkaErrors())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
