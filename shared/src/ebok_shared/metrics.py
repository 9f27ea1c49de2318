"""Prometheus metrics shared by every service (one process = one service)."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "ebok_http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "ebok_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("ebok_events_published_total", "Events published by the relay", ["type"])
EVENTS_CONSUMED = Counter(
    "ebok_events_consumed_total",
    "Events taken off a queue, by outcome (applied, duplicate, retried, dead_lettered)",
    ["consumer", "type", "outcome"],
)
EVENTS_DEAD_LETTERED = Counter(
    "ebok_events_dead_lettered_total",
    "Events parked in a dead-letter queue",
    ["consumer", "reason"],
)
OUTBOX_BACKLOG = Gauge("ebok_outbox_backlog", "Events committed but not yet published")
