"""Metric events (writer spec §8.1; string values are a stable contract)."""

from __future__ import annotations

from enum import Enum
from typing import Any, Dict, List, Tuple

__all__ = ["MetricEvent", "ListMetricsCollector"]


class MetricEvent(str, Enum):
    WRITE_STARTED = "write.started"
    SHARDING_COMPLETED = "write.sharding_completed"
    SHARD_WRITE_STARTED = "write.shard.started"
    BATCH_WRITTEN = "write.batch_written"
    SHARD_WRITE_COMPLETED = "write.shard.completed"
    SHARD_WRITE_RETRIED = "write.shard.retried"
    SHARD_WRITE_RETRY_EXHAUSTED = "write.shard.retry_exhausted"
    SHARD_WRITES_COMPLETED = "write.shards_completed"
    MANIFEST_PUBLISHED = "write.manifest_published"
    CURRENT_PUBLISHED = "write.current_published"
    WRITE_COMPLETED = "write.completed"
    RATE_LIMITER_THROTTLED = "rate_limiter.throttled"
    RATE_LIMITER_DENIED = "rate_limiter.denied"
    S3_RETRY = "s3.retry"
    S3_RETRY_EXHAUSTED = "s3.retry_exhausted"
    READER_INITIALIZED = "reader.initialized"
    READER_GET = "reader.get"
    READER_MULTI_GET = "reader.multi_get"
    READER_REFRESHED = "reader.refreshed"
    READER_CLOSED = "reader.closed"


class ListMetricsCollector:
    """Collects (event, payload) pairs in a list (tests, debugging)."""

    def __init__(self) -> None:
        self.events: List[Tuple[MetricEvent, Dict[str, Any]]] = []

    def emit(self, event: MetricEvent, payload: Dict[str, Any]) -> None:
        self.events.append((event, dict(payload)))
