"""Prometheus metrics the runtime keeps beside FastStream's own."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

registry: CollectorRegistry = REGISTRY

OUTBOX_BACKLOG = Gauge("redshield_outbox_backlog", "Events committed to the outbox and not yet published", ["service"])
RELAY_PUBLISHED = Counter("redshield_relay_published_total", "Events published by the relay (a bundle row counts its events)",
                          ["service", "topic"])
RELAY_ERRORS = Counter("redshield_relay_errors_total", "Relay passes that failed and will be retried", ["service"])
RELAY_LAG = Histogram(
    "redshield_relay_lag_seconds",
    "Time from commit to publish acknowledged, per outbox row (a bundle of events once)",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INBOX_DUPLICATES = Counter("redshield_inbox_duplicates_total", "Redelivered events skipped by the inbox", ["service", "consumer"])
DLQ_RECORDS = Counter("redshield_dlq_records_total", "Records sent to a dead-letter topic", ["service", "consumer", "reason"])
CONSUMED = Counter("redshield_consumed_total", "Records handled by a consumer", ["service", "consumer"])
HTTP_REQUESTS = Counter(
    "redshield_http_requests_total", "HTTP requests answered, by route template and status", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "redshield_http_request_seconds",
    "Time from a request's arrival to its response's last byte",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
