"""Snapshot readers (reader spec §2) over the C reader (``_native.Reader``).

``ShardedReader`` and ``ConcurrentShardedReader`` share one implementation: the C reader is
thread-safe (lookups never wait for a refresh; old shard handles close after in-flight reads), and
the GIL is released during lookups. Shards of remote stores are downloaded to ``local_root``;
``file://`` shards are read in place.

Differences from the reference, by design of this implementation: the shard backend is picked from
the manifest (``reader_factory``/``manifest_store`` are not supported), routing happens in C, and
``max_workers`` only validates (``multi_get`` is grouped by shard in C).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from . import _native
from ._engine import NativeError, credentials_opts, key_from_json, raise_native, s3_option_list
from .errors import ConfigValidationError, ReaderStateError
from .results import RequiredShardMeta, WriterInfo
from .serde import KeyEncoding

__all__ = ["ShardedReader", "ConcurrentShardedReader", "SnapshotInfo", "ShardDetail"]


@dataclass(frozen=True)
class SnapshotInfo:
    run_id: str
    num_dbs: int
    sharding: str
    created_at: str
    manifest_ref: str
    row_count: int
    key_encoding: KeyEncoding
    hash_algorithm: str


@dataclass(frozen=True)
class ShardDetail:
    db_id: int
    row_count: int
    min_key: Any
    max_key: Any
    db_url: Optional[str]


def _ctx_text(ctx: Optional[Mapping[str, Any]]) -> Optional[Dict[str, str]]:
    """Routing context values as the C reader takes them (text, converted by the column type)."""
    if ctx is None:
        return None
    out = {}
    for k, v in ctx.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (bytes, bytearray)):
            out[k] = "hex:" + bytes(v).hex()
        elif isinstance(v, str):
            out[k] = v
        elif isinstance(v, (int, float)):
            out[k] = repr(v)
        else:
            raise TypeError(f"routing_context value for {k!r} has unsupported type {type(v).__name__}")
    return out


class ShardedReader:
    """Reads a published snapshot: ``get``, ``multi_get``, ``refresh``, introspection.

    ``s3_prefix`` is the snapshot root (``s3://bucket/prefix``, a local path or ``file://`` URL) or
    the URL of a pointer object. ``ref`` pins a manifest URL, ``offset`` the N-th newest manifest.
    """

    def __init__(
        self,
        s3_prefix: str,
        local_root: Optional[str] = None,
        *,
        manifest_store: Any = None,
        current_pointer_key: str = "_CURRENT",
        reader_factory: Any = None,
        slate_env_file: Optional[str] = None,
        credential_provider: Any = None,
        s3_connection_options: Optional[Mapping[str, Any]] = None,
        max_workers: Optional[int] = None,
        max_fallback_attempts: int = 3,
        metrics_collector: Any = None,
        rate_limiter: Any = None,
        ref: Optional[str] = None,
        offset: Optional[int] = None,
        credentials_file: Optional[str] = None,
        credentials_profile: Optional[str] = None,
    ) -> None:
        self._r: Any = None
        if max_workers is not None and (isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1):
            raise ValueError("max_workers must be a positive integer (>= 1)")
        if manifest_store is not None:
            raise ConfigValidationError("manifest_store is not supported: the reader reads manifests under s3_prefix")
        if reader_factory is not None:
            raise ConfigValidationError("reader_factory is not supported: the shard backend comes from the manifest")
        if not isinstance(s3_prefix, str) or not s3_prefix:
            raise ConfigValidationError("s3_prefix must be non-empty")
        if not current_pointer_key or "/" in current_pointer_key:
            raise ConfigValidationError("current_pointer_key must be a single path segment")
        if not isinstance(max_fallback_attempts, int) or max_fallback_attempts < 0:
            raise ValueError("max_fallback_attempts must be >= 0")
        url = s3_prefix
        if current_pointer_key != "_CURRENT":
            url = s3_prefix.rstrip("/") + "/" + current_pointer_key
        self.s3_prefix = s3_prefix
        self._metrics = metrics_collector
        self._limiter = rate_limiter
        self._closed = False
        opts: Dict[str, Any] = {
            "current_url": url,
            "ref": ref,
            "offset": offset,
            "local_root": local_root,
            "max_fallback_attempts": max_fallback_attempts,
            "s3_options": s3_option_list(s3_connection_options),
            "credentials_file": credentials_file,
            "credentials_profile": credentials_profile,
        }
        provider_ctx = credentials_opts(credential_provider if credentials_file is None else None)
        with provider_ctx as creds:
            opts.update(creds)
            try:
                self._r = _native.Reader({k: v for k, v in opts.items() if v is not None})
            except NativeError as e:
                raise_native(e, "read")
        self._emit("reader.initialized", {})

    # ---- helpers ----
    def _emit(self, event: str, payload: Dict[str, Any]) -> None:
        if self._metrics is not None:
            from .metrics import MetricEvent

            self._metrics.emit(MetricEvent(event), payload)

    def _check(self) -> Any:
        if self._closed or self._r is None:
            raise ReaderStateError("Reader is closed")
        return self._r

    # ---- lookups ----
    def get(self, key: Any, *, routing_context: Optional[Mapping[str, Any]] = None) -> Optional[bytes]:
        """The value stored under key, or None. CEL snapshots whose expression reads other columns
        need ``routing_context`` (column → value)."""
        r = self._check()
        if self._limiter is not None:
            self._limiter.acquire(1)
        t0 = time.monotonic()
        try:
            v = r.get(key, _ctx_text(routing_context))
        except NativeError as e:
            raise_native(e, "read")
        self._emit("reader.get", {"duration_ms": int((time.monotonic() - t0) * 1000), "found": v is not None})
        return v

    def multi_get(
        self, keys: Sequence[Any], *, routing_context: Optional[Mapping[str, Any]] = None
    ) -> Dict[Any, Optional[bytes]]:
        """Map key → value (None when absent), in input order of first occurrence. All-or-nothing:
        any shard failure fails the call."""
        r = self._check()
        keys = list(keys)
        if self._limiter is not None:
            self._limiter.acquire(len(keys))
        t0 = time.monotonic()
        try:
            values = r.multi_get(keys, _ctx_text(routing_context))
        except NativeError as e:
            raise_native(e, "read")
        out: Dict[Any, Optional[bytes]] = {}
        for k, v in zip(keys, values):
            if k not in out:
                out[k] = v
        self._emit("reader.multi_get", {"duration_ms": int((time.monotonic() - t0) * 1000), "num_keys": len(keys)})
        return out

    def refresh(self) -> bool:
        """Follows _CURRENT; True iff the reader switched to a different manifest. On failure the
        reader keeps serving its current snapshot."""
        r = self._check()
        try:
            changed = r.refresh()
        except NativeError as e:
            raise_native(e, "read")
        self._emit("reader.refreshed", {"changed": changed})
        return changed

    # ---- introspection ----
    def route_key(self, key: Any, routing_context: Optional[Mapping[str, Any]] = None) -> int:
        r = self._check()
        try:
            if routing_context is not None:
                return r.route(None, _ctx_text(routing_context))
            return r.route(key)
        except NativeError as e:
            if e.status_name == "SHARDY_EROUTE":
                raise ValueError(str(e)) from e
            raise_native(e, "read")

    def snapshot_info(self) -> SnapshotInfo:
        r = self._check()
        try:
            i = r.info()
        except NativeError as e:
            raise_native(e, "read")
        return SnapshotInfo(
            run_id=i["run_id"],
            num_dbs=i["num_dbs"],
            sharding=i["sharding"],
            created_at=i["created_at"],
            manifest_ref=i["manifest_ref"],
            row_count=i["row_count"],
            key_encoding=KeyEncoding(i["key_encoding"]),
            hash_algorithm=i["hash_algorithm"],
        )

    @property
    def key_encoding(self) -> KeyEncoding:
        return self.snapshot_info().key_encoding

    def _shards(self) -> List[Dict[str, Any]]:
        r = self._check()
        try:
            return r.shards()
        except NativeError as e:
            raise_native(e, "read")

    def shard_details(self) -> List[ShardDetail]:
        """Every db_id 0..num_dbs-1 in order, empty shards included."""
        return [
            ShardDetail(
                db_id=s["db_id"],
                row_count=s["row_count"],
                min_key=key_from_json(s["min_key"]),
                max_key=key_from_json(s["max_key"]),
                db_url=s["db_url"],
            )
            for s in self._shards()
        ]

    def _meta(self, s: Dict[str, Any]) -> RequiredShardMeta:
        return RequiredShardMeta(
            db_id=s["db_id"],
            db_url=s["db_url"],
            attempt=s["attempt"],
            row_count=s["row_count"],
            db_bytes=s["db_bytes"],
            min_key=key_from_json(s["min_key"]),
            max_key=key_from_json(s["max_key"]),
            checkpoint_id=s["checkpoint_id"],
            writer_info=WriterInfo(attempt=s["attempt"]),
        )

    def shard_for_key(self, key: Any, routing_context: Optional[Mapping[str, Any]] = None) -> RequiredShardMeta:
        db = self.route_key(key, routing_context)
        return self._meta(self._shards()[db])

    def shards_for_keys(self, keys: Iterable[Any]) -> Dict[Any, RequiredShardMeta]:
        shards = self._shards()
        return {k: self._meta(shards[self.route_key(k)]) for k in keys}

    def health(self, staleness_threshold: Any = None) -> Dict[str, Any]:
        """Minimal health report: status healthy/unhealthy, manifest ref, is_closed."""
        if self._closed or self._r is None:
            return {"status": "unhealthy", "is_closed": True, "manifest_ref": None}
        try:
            info = self._r.info()
        except NativeError:
            return {"status": "unhealthy", "is_closed": False, "manifest_ref": None}
        return {"status": "healthy", "is_closed": False, "manifest_ref": info["manifest_ref"]}

    # ---- lifecycle ----
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Idempotent. Lookups in flight on other threads finish first."""
        if self._closed:
            return
        self._closed = True
        if self._r is not None:
            self._r.close()
            self._emit("reader.closed", {})

    def __enter__(self) -> "ShardedReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        r = getattr(self, "_r", None)
        if r is not None and not getattr(self, "_closed", True):
            try:
                r.close()
            except Exception:
                pass


class ConcurrentShardedReader(ShardedReader):
    """Thread-safe reader (the C reader is thread-safe in every mode; ``thread_safety`` and
    ``pool_checkout_timeout`` are validated for compatibility)."""

    def __init__(
        self,
        s3_prefix: str,
        local_root: Optional[str] = None,
        *,
        thread_safety: str = "lock",
        pool_checkout_timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        self._r = None
        if thread_safety not in ("lock", "pool"):
            raise ValueError("thread_safety must be 'lock' or 'pool'")
        if not pool_checkout_timeout > 0:
            raise ValueError(f"pool_checkout_timeout must be > 0, got {pool_checkout_timeout}")
        super().__init__(s3_prefix, local_root, **kwargs)
