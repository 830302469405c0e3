"""Python writer: ``write_hash_sharded`` / ``write_cel_sharded`` over an iterable of records
(writer spec §2.2, §5.17), built on the C builder (``_native.Builder``).

How it maps to the reference's modes:
  * Records are read in this process; ``key_fn``/``value_fn``/``columns_fn`` run per record and the
    rows are handed to C in chunks. Routing, key encoding, buffering (spilling past
    ``options.buffering.max_total_batched_bytes``), SQLite writing, publish and cleanup are the C
    builder's.
  * ``parallel=False`` (PY1) writes the shards with one C writer thread; ``parallel=True`` with one
    per CPU. No worker processes or shared memory are used (``shared_memory``/``max_queue_size``
    are validated only). ``config.shard_retry`` applies with ``parallel=True`` (PYR): a shard
    whose write fails with an I/O or object-store error is written again from its buffered rows as
    the next attempt, after ``initial_backoff × multiplier^i``; PY1 ignores it, as the spec says.
  * Rate limits apply per shard writer thread (rows/s and bytes/s per shard).
  * Callback exceptions propagate raw; nothing is published and the run record is marked failed.
"""

from __future__ import annotations

import time
from collections.abc import Sized
from typing import Any, Iterable, List, Optional

from .. import _native
from .._engine import NativeError, build_result, credentials_opts, native_opts, num_dbs_for_rows, raise_native
from ..config import CelShardedWriteConfig, HashShardedWriteConfig
from ..errors import ConfigValidationError
from ..inputs import PythonRecordInput
from ..options import PythonWriteOptions
from ..results import BuildResult
from ..serde import make_key_encoder

__all__ = ["write_hash_sharded", "write_cel_sharded"]

_CHUNK = 4096  # rows per call into C
_WRITER_TYPE = "python"


def _validate(config: Any, cfg_type: type, input: Any, options: Optional[PythonWriteOptions]) -> PythonWriteOptions:
    if not isinstance(config, cfg_type):
        raise ConfigValidationError(f"config must be {cfg_type.__name__}")
    if not isinstance(input, PythonRecordInput):
        raise ConfigValidationError("input must be PythonRecordInput")
    options = options if options is not None else PythonWriteOptions()
    if not isinstance(options, PythonWriteOptions):
        raise ConfigValidationError("options must be PythonWriteOptions")
    config.validate()
    input.validate()
    options.validate()
    if config.kv.profile_value_sizes_for_page_size:
        raise ConfigValidationError(
            "kv.profile_value_sizes_for_page_size is only supported by the Spark/Dask/Ray writers; "
            'use SqliteFactory(page_size="auto") with the Python writer'
        )
    if input.vector_fn is not None and config.vector is None:
        raise ConfigValidationError("vector_fn requires config.vector_spec to be set")
    if config.vector is not None:
        if options.parallel:
            raise ConfigValidationError("Parallel mode is not supported for unified KV+vector writes.")
        if input.vector_fn is None and config.vector.vector_col is None:
            raise ConfigValidationError("config.vector_spec is set but no vector_fn was provided and no vector_col is set")
        if config.vector.vector_col is not None and input.columns_fn is None:
            raise ConfigValidationError("vector_spec.vector_col is set but input.columns_fn is None")
        raise ConfigValidationError("unified KV+vector writes are not available in this build")
    return options


def _key_error(err: NativeError, keys: List[Any], encoding: Any) -> None:
    """Turns a rejected key of a chunk into the catalogued encoder message (chained to C's)."""
    encode = make_key_encoder(encoding)
    for k in keys:
        try:
            encode(k)
        except ConfigValidationError as e:
            e.status, e.status_name = err.status, err.status_name
            raise e from err
    raise_native(err, "add")


class _Build:
    """One C builder plus the Python-side bookkeeping of a write."""

    def __init__(self, config: Any, options: PythonWriteOptions, num_dbs: Optional[int] = None):
        opts = native_opts(config, key_col="_key", writer_type=_WRITER_TYPE, num_dbs=num_dbs)
        opts["threads"] = 0 if options.parallel else 1
        retry = getattr(getattr(config, "retry", None), "shard_retry", None)
        if options.parallel and retry is not None:
            opts["shard_retry_max"] = int(retry.max_retries)
            opts["shard_retry_backoff_s"] = retry.initial_backoff.total_seconds()
            opts["shard_retry_multiplier"] = float(retry.backoff_multiplier)
        if options.buffering.max_total_batched_bytes is not None:
            opts["memory_limit"] = options.buffering.max_total_batched_bytes
        self.config = config
        self.encoding = config.kv.key_encoding
        self.collector = config.observability.metrics_collector
        self.started = time.monotonic()
        with credentials_opts(config.storage.credential_provider) as creds:
            opts.update(creds)
            try:
                self.b = _native.Builder(opts)
            except NativeError as e:
                raise_native(e, "open")

    def emit(self, event: str, payload: dict) -> None:
        if self.collector is not None:
            from ..metrics import MetricEvent

            self.collector.emit(MetricEvent(event), payload)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def add_chunk(self, keys: List[Any], values: List[Any]) -> None:
        try:
            self.b.add_many(keys, values)
        except NativeError as e:
            if e.status_name in ("SHARDY_ETYPE", "SHARDY_ERANGE"):
                _key_error(e, keys, self.encoding)
            raise_native(e, "add")

    def add_cel(self, key: Any, ctx: dict, value: Any) -> None:
        try:
            self.b.add_cel(key, ctx, value)
        except NativeError as e:
            if e.status_name in ("SHARDY_ETYPE", "SHARDY_ERANGE"):
                _key_error(e, [key], self.encoding)
            raise_native(e, "add")

    def finish(self) -> BuildResult:
        self.emit("write.shards_completed", {"elapsed_ms": self.elapsed_ms(), "duration_ms": self.elapsed_ms(),
                                              "rows_written": self.b.rows()})
        try:
            res = self.b.finish()
        except NativeError as e:
            raise_native(e, "finish")
        result = build_result(res, sharding_ms=0)
        self.emit("write.manifest_published", {"elapsed_ms": self.elapsed_ms()})
        self.emit("write.completed", {"elapsed_ms": self.elapsed_ms(), "rows_written": result.stats.rows_written})
        return result

    def close(self) -> None:
        self.b.close()


def _feed(build: _Build, records: Iterable[Any], input: PythonRecordInput) -> None:
    key_fn, value_fn = input.key_fn, input.value_fn
    keys: List[Any] = []
    values: List[Any] = []
    for r in records:
        keys.append(key_fn(r))
        values.append(value_fn(r))
        if len(keys) >= _CHUNK:
            build.add_chunk(keys, values)
            keys, values = [], []
    if keys:
        build.add_chunk(keys, values)


def _run(build: _Build, feed: Any) -> BuildResult:
    try:
        build.emit("write.started", {"elapsed_ms": 0})
        feed()
        return build.finish()
    finally:
        build.close()  # unfinished → nothing published, staging removed, run record failed


def write_hash_sharded(
    records: Iterable[Any],
    config: HashShardedWriteConfig,
    input: PythonRecordInput,
    options: Optional[PythonWriteOptions] = None,
) -> BuildResult:
    """Writes ``records`` as a HASH-sharded snapshot: every record lands in shard
    ``xxh3_64(key_fn(record)) % num_dbs``. Returns once the manifest and _CURRENT are published."""
    options = _validate(config, HashShardedWriteConfig, input, options)
    num_dbs = config.num_dbs
    if config.max_keys_per_shard is not None:
        if not isinstance(records, Sized):
            raise ConfigValidationError(
                "max_keys_per_shard needs a Sized input (a list or other collection) so len(records) "
                "can size the build"
            )
        num_dbs = num_dbs_for_rows(len(records), config.max_keys_per_shard)
    build = _Build(config, options, num_dbs=num_dbs)
    return _run(build, lambda: _feed(build, records, input))


def _infer_routing_values(records: Iterable[Any], input: PythonRecordInput, config: CelShardedWriteConfig) -> list:
    """First pass: the distinct values of the expression's single column, sorted (ints
    numerically, str by UTF-8 bytes). Only an expression that is exactly one column name can be
    inferred here; other expressions need explicit routing_values."""
    expr = config.cel_expr.strip()
    if expr not in config.cel_columns:
        raise ConfigValidationError(
            "infer_routing_values_from_data needs cel_expr to be a single column name "
            f"(one of {sorted(config.cel_columns)}); got {expr!r} — pass routing_values instead"
        )
    tokens = set()
    for r in records:
        ctx = input.columns_fn(r) if input.columns_fn is not None else {"key": input.key_fn(r)}
        v = ctx.get(expr)
        if v is None or isinstance(v, bool) or not isinstance(v, (int, str)):
            raise ConfigValidationError(f"Inferred routing values must be int or str; got {type(v).__name__}")
        tokens.add(v)
    kinds = {type(t) for t in tokens}
    if len(kinds) > 1:
        raise ConfigValidationError("Inferred routing values must all have the same type")
    if kinds == {str}:
        return sorted(tokens, key=lambda s: s.encode("utf-8"))
    return sorted(tokens)


def write_cel_sharded(
    records: Iterable[Any],
    config: CelShardedWriteConfig,
    input: PythonRecordInput,
    options: Optional[PythonWriteOptions] = None,
) -> BuildResult:
    """Writes ``records`` as a CEL-sharded snapshot. The expression sees ``columns_fn(record)``
    (``key`` is bound to ``key_fn(record)`` unless the columns name it); direct mode stores the
    result as db_id, categorical mode the token's position in ``routing_values``."""
    options = _validate(config, CelShardedWriteConfig, input, options)
    if config.infer_routing_values_from_data:
        if options.parallel:
            raise ConfigValidationError("Parallel mode does not support inferred categorical CEL routing")
        if iter(records) is records:  # type: ignore[comparison-overlap]
            raise ConfigValidationError(
                "infer_routing_values_from_data requires a reiterable input (a list or other collection), "
                "not a one-shot iterator"
            )
        values = _infer_routing_values(records, input, config)
        config = _with_routing_values(config, values)
    elif options.parallel and config.routing_values is None:
        raise ConfigValidationError(
            "Parallel mode requires num_dbs > 0 to spawn workers; CEL direct mode discovers num_dbs from "
            "the data — use routing_values or parallel=False"
        )
    build = _Build(config, options)
    key_fn, value_fn, columns_fn = input.key_fn, input.value_fn, input.columns_fn

    def feed() -> None:
        if columns_fn is None:
            _feed(build, records, input)
            return
        for r in records:
            key = key_fn(r)
            ctx = columns_fn(r)
            if "key" not in ctx and "key" in config.cel_columns:
                ctx = dict(ctx)
                ctx["key"] = key
            build.add_cel(key, ctx, value_fn(r))

    return _run(build, feed)


def _with_routing_values(config: CelShardedWriteConfig, values: list) -> CelShardedWriteConfig:
    """A copy of config in categorical mode with the inferred values (the caller's is untouched)."""
    import copy

    new = copy.copy(config)
    new.sharding = copy.copy(config.sharding)
    new.sharding.infer_routing_values_from_data = False
    new.sharding.routing_values = values
    return new
