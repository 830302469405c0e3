"""shardyfusion.writer.spark — build a sharded snapshot from a PySpark DataFrame.

Data flow (seed spark-writer.md; spec writer.md §5, §6.2, §7.3):

1. validate config/input/options; ``shard_id_col`` collision check (nothing written, no run record);
2. ``SparkConfOverrideContext`` then ``DataFrameCacheContext`` wrap everything below;
3. HASH ``num_dbs`` (``max_keys_per_shard`` → ``df.count()``); the run record opens (C: ``Run``);
4. shard ids are computed by C over the Arrow buffers of every batch (``mapInArrow``; no Python per
   row): the id column ``shard_id_col`` (int32) and a partitioning column are appended;
5. CEL direct mode: ``num_dbs`` = max id + 1 after checking the ids are exactly 0..max;
6. ``verify_routing``: the first 20 rows' ids are re-derived on the driver with the reader's router
   (``_native.route_hash`` / ``CelRouter.route``); any mismatch → ``ShardAssignmentError``;
7. partitioning: ``repartition(num_dbs, <partitioning column>)``. Spark's hash partitioner puts a row
   in partition ``pmod(murmur3(value, 42), num_dbs)``; for every shard ``d`` the driver picks
   (``spark_hash_int``, Spark's Murmur3 of an int) an int ``v_d`` whose partition is ``d``, and the routing step writes
   ``v_<shard id>`` into the partitioning column. So partition ``i`` holds exactly shard ``i``: each
   shard is written by one task, and the ``num_dbs`` shards are written in parallel by ``num_dbs``
   tasks (an explicit partition count is never coalesced by adaptive execution). Each task checks
   that every row it receives belongs to its partition's shard;
8. every task writes its shard with the C attempt writer (Arrow batches straight into C; SQLite is
   fed in key order, so ``sort_within_partitions`` holds by construction), under
   ``.../db=NNNNN/attempt=NN`` where ``attempt = spark_attempt × (1 + shard_retry.max_retries) +
   retry`` — Spark retries, speculative copies and in-task retries never share a path;
9. one small result per task reaches the driver; the driver waits until no task of the write stage is
   still running (killed speculative copies included), then C selects winners (lowest attempt, then
   task attempt id, then URL), publishes manifest then ``_CURRENT`` and sweeps every non-winning
   attempt under the run.

Errors follow the seed's failure table: bad config / collision → ``ConfigValidationError``; routing
mismatch or unroutable keys → ``ShardAssignmentError``; a shard whose every attempt failed →
``ShardCoverageError`` (the cause chained); publish failures → ``PublishManifestError`` /
``PublishCurrentError``. After the run record exists, any failure marks the run failed and deletes
what the run uploaded.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from typing import Dict, Iterator, List, Optional

from .. import _native
from .._engine import build_result, native_opts, raise_native
from ..errors import (
    ConfigValidationError,
    ShardAssignmentError,
    ShardCoverageError,
    ShardWriteError,
    ShardyfusionError,
)

__all__ = [
    "write_hash_sharded",
    "write_cel_sharded",
    "SparkConfOverrideContext",
    "DataFrameCacheContext",
]

log = logging.getLogger("shardyfusion.writer.spark")

VERIFY_SAMPLE = 20
_RESULT_COL = "_shardy_attempt_result"
# Exceptions raised inside tasks reach the driver as text; this marker carries the class name.
_ERR_MARK = "SHARDYFUSION_ERROR"


# ------------------------------------------------------------------------------------------------
# Context managers (spec writer §2.3)
# ------------------------------------------------------------------------------------------------
class SparkConfOverrideContext:
    """Applies ``overrides`` to ``spark.conf`` for the body, then restores (or unsets) each key."""

    def __init__(self, spark, overrides: Optional[Dict[str, str]]):
        self._spark = spark
        self._overrides = dict(overrides or {})
        self._saved: List[tuple] = []

    def __enter__(self):
        for key, value in self._overrides.items():
            try:
                old = self._spark.conf.get(key, None)
            except Exception as exc:  # noqa: BLE001 - logged and swallowed by contract
                log.warning("spark_conf_get_failed key=%s error=%s", key, exc)
                old = None
            try:
                self._spark.conf.set(key, str(value))
                self._saved.append((key, old))
            except Exception as exc:  # noqa: BLE001
                log.warning("spark_conf_override_failed key=%s error=%s", key, exc)
        return self

    def __exit__(self, *exc):
        for key, old in reversed(self._saved):
            try:
                if old is None:
                    self._spark.conf.unset(key)
                else:
                    self._spark.conf.set(key, old)
            except Exception as err:  # noqa: BLE001
                log.warning("spark_conf_restore_failed key=%s error=%s", key, err)
        self._saved = []
        return False


class DataFrameCacheContext:
    """Persists ``df`` (at ``storage_level``) for the body when enabled; unpersists afterwards."""

    def __init__(self, df, storage_level=None, *, enabled: bool = True):
        self._df = df
        self._level = storage_level
        self._enabled = enabled
        self._persisted = None

    def __enter__(self):
        if not self._enabled:
            return self._df
        try:
            self._persisted = self._df.persist(self._level) if self._level is not None else self._df.persist()
            return self._persisted
        except Exception as exc:  # noqa: BLE001
            log.warning("dataframe_cache_failed error=%s", exc)
            return self._df

    def __exit__(self, *exc):
        if self._enabled and self._persisted is not None:
            try:
                self._persisted.unpersist(blocking=False)
            except Exception as err:  # noqa: BLE001
                log.warning("dataframe_unpersist_failed error=%s", err)
        return False


# ------------------------------------------------------------------------------------------------
# Public entry points
# ------------------------------------------------------------------------------------------------
def write_hash_sharded(df, config, input, options=None):  # noqa: A002 - spec parameter name
    """Builds a HASH-sharded snapshot (xxh3_64 of the key mod num_dbs) from ``df``."""
    return _write(df, config, input, options, "hash")


def write_cel_sharded(df, config, input, options=None):  # noqa: A002
    """Builds a CEL-sharded snapshot from ``df`` (variables bind to same-named columns)."""
    return _write(df, config, input, options, "cel")


# ------------------------------------------------------------------------------------------------
# Driver pipeline
# ------------------------------------------------------------------------------------------------
def _options(options):
    if options is None:
        from ..options import SparkWriteOptions  # local: keeps import cycles away

        return SparkWriteOptions()
    return options


def _validate(df, config, input, options, strategy):  # noqa: A002
    from ..config import CelShardedWriteConfig, HashShardedWriteConfig

    want = HashShardedWriteConfig if strategy == "hash" else CelShardedWriteConfig
    if not isinstance(config, want):
        raise ConfigValidationError(
            f"write_{strategy}_sharded expects a {want.__name__}, got {type(config).__name__}"
        )
    config.validate()
    if input is None or not getattr(input, "key_col", None):
        raise ConfigValidationError("input.key_col must be non-empty")
    if getattr(input, "value_spec", None) is None:
        raise ConfigValidationError("input.value_spec is required")
    if hasattr(options, "validate"):
        options.validate()
    columns = set(df.columns)
    if config.shard_id_col in columns:
        raise ConfigValidationError(
            f"shard_id_col '{config.shard_id_col}' conflicts with user data column. "
            "Choose a different shard_id_col or rename the user column."
        )
    if input.key_col not in columns:
        raise ConfigValidationError(
            f"input.key_col '{input.key_col}' is not a column of the DataFrame; columns: {sorted(columns)}"
        )


def _value_plan(value_spec, columns: List[str]):
    """(kind, cols, fn) for a ValueSpec: binary_col / json_cols run in C, callables in Python."""
    desc = getattr(value_spec, "description", "") or ""
    if desc.startswith("binary_col:"):
        col = desc[len("binary_col:"):]
        if col not in columns:
            raise ConfigValidationError(f"ValueSpec.binary_col: column '{col}' is not in the DataFrame: {columns}")
        return "binary_col", [col], None
    if desc.startswith("json_cols:"):
        sel = desc[len("json_cols:"):]
        return "json_cols", (None if sel == "all" else sel.split(",")), None
    return "callable", None, value_spec


def _write(df, config, input, options, strategy):  # noqa: A002
    options = _options(options)
    _validate(df, config, input, options, strategy)
    value_kind, value_cols, value_fn = _value_plan(input.value_spec, list(df.columns))
    spark = df.sparkSession
    with SparkConfOverrideContext(spark, getattr(options, "spark_conf_overrides", None)):
        with DataFrameCacheContext(
            df, getattr(options, "storage_level", None), enabled=bool(getattr(options, "cache_input", False))
        ) as data:
            return _run(spark, data, config, input, options, strategy, value_kind, value_cols, value_fn)


def _resolve_num_dbs(data, config, strategy) -> Optional[int]:
    if strategy == "cel":
        values = getattr(config, "routing_values", None)
        return max(1, len(values)) if values is not None else None
    if getattr(config, "num_dbs", None):
        return int(config.num_dbs)
    rows = data.count()
    per = int(config.max_keys_per_shard)
    return max(1, -(-rows // per)) if rows else 1


def _run(spark, data, config, input, options, strategy, value_kind, value_cols, value_fn):  # noqa: A002
    from pyspark.sql import types as T

    num_dbs = _resolve_num_dbs(data, config, strategy)
    if strategy == "cel" and getattr(config, "infer_routing_values_from_data", False):
        raise ConfigValidationError(
            "infer_routing_values_from_data is not supported by the Spark writer yet; pass routing_values"
        )
    opts = native_opts(config, key_col=input.key_col, writer_type="spark", num_dbs=num_dbs)
    try:
        run = _native.Run(opts)  # validates, compiles CEL, writes the run record
    except _native.NativeError as err:
        raise_native(err, "open")
    try:
        try:
            result = _pipeline(spark, data, config, input, options, strategy, value_kind, value_cols, value_fn,
                               opts, run, num_dbs, T)
        except ShardyfusionError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed Spark job (routing, verification, discovery)
            if _ERR_MARK not in str(exc):
                raise
            _raise_job_failure(exc)
    except BaseException as exc:
        try:
            run.fail(type(exc).__name__, str(exc)[:2000])
        except Exception:  # noqa: BLE001 - already failing; the original error matters
            pass
        run.close()
        raise
    run.close()
    return result


def _pipeline(spark, data, config, input, options, strategy, value_kind, value_cols, value_fn,  # noqa: A002
              opts, run, num_dbs, T):
    sid = config.shard_id_col
    part_col = _free_name(data.columns, sid + "_partition")
    route_opts = dict(opts)
    route_opts["run_id"] = run.run_id
    user_fields = list(data.schema.fields)
    routed_schema = T.StructType(
        user_fields + [T.StructField(sid, T.IntegerType(), False), T.StructField(part_col, T.IntegerType(), False)]
    )

    # CEL direct mode: ids first (no partition values needed yet), then num_dbs from the data.
    if num_dbs is None:
        ids_only = data.mapInArrow(
            _route_fn(strategy, route_opts, input.key_col, 0, sid, part_col, None), routed_schema
        )
        num_dbs = _discover_num_dbs(ids_only, sid)
        route_opts["num_dbs"] = num_dbs

    pvals = _partition_values(num_dbs)
    routed = data.mapInArrow(_route_fn(strategy, route_opts, input.key_col, num_dbs, sid, part_col, pvals),
                             routed_schema)
    if getattr(options, "verify_routing", True):
        _verify_routing(routed, strategy, route_opts, input.key_col, sid, num_dbs)

    retry = getattr(getattr(config, "retry", None), "shard_retry", None)
    write = _write_fn(route_opts, input.key_col, sid, value_kind, value_cols, value_fn, retry,
                      [f.name for f in user_fields])
    group = "shardyfusion-" + uuid.uuid4().hex
    sc = spark.sparkContext
    sc.setJobGroup(group, f"shardyfusion write run_id={run.run_id}", interruptOnCancel=True)
    try:
        results = (
            routed.repartition(num_dbs, part_col)
            .mapInArrow(write, T.StructType([T.StructField(_RESULT_COL, T.StringType(), False)]))
            .collect()
        )
    except Exception as exc:  # noqa: BLE001 - Spark wraps everything; classify by the task's text
        _wait_for_tasks(sc, group)
        _raise_job_failure(exc)
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setLocalProperty("spark.job.description", None)
    _wait_for_tasks(sc, group)
    attempts = [json.loads(r[0]) for r in results]
    try:
        native = run.publish(attempts)
    except _native.NativeError as err:
        raise_native(err, "publish")
    return build_result(native)


def _free_name(columns, base: str) -> str:
    name, i = base, 0
    while name in columns:
        i += 1
        name = f"{base}{i}"
    return name


def spark_hash_int(value: int, seed: int = 42) -> int:
    """Spark's ``hash()`` of an IntegerType value: Murmur3 x86_32 of the 4-byte int with seed 42
    (``Murmur3_x86_32.hashInt``), as a signed 32-bit int. This is what ``repartition(n, col)``
    partitions an int column by: partition = pmod(hash, n)."""
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    k1 = (value & m) * 0xCC9E2D51 & m
    k1 = rotl(k1, 15) * 0x1B873593 & m
    h1 = rotl((seed & m) ^ k1, 13)
    h1 = (h1 * 5 + 0xE6546B64) & m
    h1 ^= 4
    h1 ^= h1 >> 16
    h1 = h1 * 0x85EBCA6B & m
    h1 ^= h1 >> 13
    h1 = h1 * 0xC2B2AE35 & m
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1


def _partition_values(num_dbs: int) -> List[int]:
    """v[d] = the smallest int >= 0 that Spark's hash partitioner sends to partition d. (Every
    write task also checks that the rows it receives belong to its partition's shard.)"""
    found: Dict[int, int] = {}
    v = 0
    while len(found) < num_dbs:
        found.setdefault(spark_hash_int(v) % num_dbs, v)
        v += 1
    return [found[d] for d in range(num_dbs)]


def _discover_num_dbs(ids_only, sid: str) -> int:
    from pyspark.sql import functions as F

    row = ids_only.agg(F.min(sid).alias("lo"), F.max(sid).alias("hi"), F.countDistinct(sid).alias("n")).collect()[0]
    if row["n"] == 0:
        return 1
    lo, hi, n = int(row["lo"]), int(row["hi"]), int(row["n"])
    if lo != 0 or n != hi + 1:
        raise ShardAssignmentError(
            f"CEL expression produced non-consecutive shard IDs: distinct count={n}, max+1={hi + 1}. "
            "Direct-mode CEL routing must produce every id from 0 to max."
        )
    return hi + 1


def _verify_routing(routed, strategy, route_opts, key_col, sid, num_dbs):
    """Re-derives the first rows' ids with the reader's router (spec writer §5.10)."""
    cel_vars = None
    if strategy == "cel":
        cel_vars = [c.split(":", 1)[0] for c in route_opts.get("cel_columns") or []]
    cols = [key_col, sid]
    if cel_vars:
        cols += [v for v in cel_vars if v in routed.columns and v not in cols]
    sample = routed.select(*cols).limit(VERIFY_SAMPLE).collect()
    if not sample:
        return
    router = _native.CelRouter(route_opts) if strategy == "cel" else None
    bad = []
    try:
        for row in sample:
            key = row[key_col]
            if isinstance(key, bytearray):
                key = bytes(key)
            if router is None:
                want = _native.route_hash(key, num_dbs)
            else:
                # `key` binds to key_col when no column is named `key` (DESIGN §3)
                ctx = {v: (row[v] if v in row.__fields__ else key) for v in cel_vars}
                want = router.route(ctx)
            got = row[sid]
            if got != want:
                bad.append((key, got, want))
    finally:
        if router is not None:
            router.close()
    if bad:
        detail = "; ".join(f"key={k!r}, spark={g}, python={w}" for k, g, w in bad[:5])
        raise ShardAssignmentError(
            f"Spark/Python routing mismatch in {len(bad)}/{len(sample)} sampled rows. First mismatches: {detail}"
        )


def _wait_for_tasks(sc, group: str, timeout: float = 120.0) -> None:
    """Waits until no task of the job group runs (killed speculative copies must stop writing
    before the sweep after publish, or they could leave objects behind)."""
    tracker = sc.statusTracker()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        active = 0
        for job_id in tracker.getJobIdsForGroup(group):
            job = tracker.getJobInfo(job_id)
            for stage_id in (job.stageIds if job else []):
                stage = tracker.getStageInfo(stage_id)
                if stage:
                    active += stage.numActiveTasks
        if active == 0:
            return
        time.sleep(0.2)
    log.warning("write tasks still running after %.0f s; the sweep may miss their objects", timeout)


_TASK_ERR = re.compile(_ERR_MARK + r"\[(\w+)\]\[([0-9,]*)\]: (.*?)" + _ERR_MARK + "_END", re.S)


def _raise_job_failure(exc: BaseException):
    """Maps a failed Spark write job to the seed's failure table (spec writer §7.3, DIV-3)."""
    from .. import errors as E

    text = str(exc)
    m = _TASK_ERR.search(text)
    if m:
        cls_name, db_ids, msg = m.group(1), m.group(2), m.group(3).strip()
        cls = getattr(E, cls_name, None)
        if cls in (E.ConfigValidationError, E.ShardAssignmentError):
            raise cls(msg) from exc
        ids = [int(x) for x in db_ids.split(",") if x]
        raise ShardCoverageError(
            f"All attempts of shard(s) {ids} failed; last error: {cls_name}: {msg}"
        ) from exc
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    raise ShardCoverageError(f"The Spark write job failed, so some shard has no successful attempt: {first}") from exc


# ------------------------------------------------------------------------------------------------
# Executor side (closures shipped to tasks; only picklable state captured)
# ------------------------------------------------------------------------------------------------
_NATIVE_CLASS = {
    "SHARDY_EROUTE": ShardAssignmentError,
    "SHARDY_EINVAL": ConfigValidationError,
    "SHARDY_ETYPE": ConfigValidationError,
    "SHARDY_ERANGE": ConfigValidationError,
}
_RETRYABLE = ("ShardWriteError", "BridgeTimeoutError", "S3TransientError", "PublishManifestError",
              "PublishCurrentError", "ManifestStoreError", "PoolExhaustedError")


def _classify(exc: BaseException, db_id: int, attempt: int) -> BaseException:
    """A library error for anything raised while writing a shard attempt (spec writer §5.12 step 8)."""
    if isinstance(exc, _native.NativeError):
        return _NATIVE_CLASS.get(exc.status_name, ShardWriteError)(str(exc))
    if isinstance(exc, ShardyfusionError):
        return exc
    return ShardWriteError(f"Shard write failed for db_id={db_id}, attempt={attempt}: {type(exc).__name__}: {exc}")


def _retryable(err: BaseException) -> bool:
    flag = getattr(err, "retryable", None)
    return bool(flag) if flag is not None else type(err).__name__ in _RETRYABLE


def _injected_failure(tc, db_id: int, attempt: int) -> None:
    """Test hooks (Spark local properties, set by tests with ``sc.setLocalProperty``):
    ``shardyfusion.test.fail_after_upload`` = "db:attempt,..." makes those attempts fail after their
    shard was uploaded; ``shardyfusion.test.sleep_after_upload`` = "db:attempt:seconds,..." makes them
    linger (a slow task for speculative execution). Both prove that losers are swept."""
    if tc is None:
        return
    spec = tc.getLocalProperty("shardyfusion.test.sleep_after_upload")
    for item in (spec.split(",") if spec else []):
        db, att, secs = item.split(":")
        if int(db) == db_id and int(att) == attempt:
            time.sleep(float(secs))
    spec = tc.getLocalProperty("shardyfusion.test.fail_after_upload")
    if spec and f"{db_id}:{attempt}" in spec.split(","):
        raise ShardWriteError(f"injected failure after upload (db_id={db_id}, attempt={attempt})")


def _task_error(exc: BaseException, db_ids) -> RuntimeError:
    ids = ",".join(str(d) for d in sorted(db_ids))
    return RuntimeError(f"{_ERR_MARK}[{type(exc).__name__}][{ids}]: {exc} {_ERR_MARK}_END")


def _route_fn(strategy, route_opts, key_col, num_dbs, sid, part_col, pvals):
    def route(batches):
        import pyarrow as pa
        import pyarrow.compute as pc

        router = _native.CelRouter(route_opts) if strategy == "cel" else None
        vmap = pa.array(pvals, pa.int32()) if pvals is not None else None
        try:
            for b in batches:
                try:
                    if router is None:
                        raw = _native.route_hash_arrow(b, key_col, num_dbs)
                    else:
                        raw = router.route_arrow(b, key_col)
                except _native.NativeError as exc:
                    raise _task_error(_classify(exc, -1, 0), []) from None
                ids = pa.Array.from_buffers(pa.int32(), b.num_rows, [None, pa.py_buffer(raw)])
                if vmap is not None:
                    if router is not None and num_dbs and b.num_rows:
                        hi = pc.max(ids).as_py()
                        if hi >= num_dbs:
                            raise _task_error(ShardAssignmentError(
                                f"CEL routing produced shard id {hi}, outside [0, {num_dbs})"), [])
                    part = vmap.take(ids)
                else:
                    part = ids
                yield pa.RecordBatch.from_arrays(list(b.columns) + [ids, part],
                                                 names=list(b.schema.names) + [sid, part_col])
        finally:
            if router is not None:
                router.close()

    return route


def _write_fn(route_opts, key_col, sid, value_kind, value_cols, value_fn, retry, user_cols):
    max_retries = int(getattr(retry, "max_retries", 0) or 0) if retry is not None else 0
    backoff0 = retry.initial_backoff.total_seconds() if retry is not None else 0.0
    mult = float(getattr(retry, "backoff_multiplier", 2.0)) if retry is not None else 1.0

    def write(batches):
        import pyarrow as pa
        from pyspark import TaskContext

        tc = TaskContext.get()
        db_id = tc.partitionId() if tc else 0
        spark_attempt = tc.attemptNumber() if tc else 0
        info = {
            "stage_id": tc.stageId() if tc else None,
            "task_attempt_id": tc.taskAttemptId() if tc else None,
        }
        spool = _Spool() if max_retries > 0 else None
        try:
            result = None
            for i in range(1 + max_retries):
                attempt = spark_attempt * (1 + max_retries) + i
                source = batches if i == 0 else spool.replay()
                try:
                    result = _write_attempt(source, spool if i == 0 else None, route_opts, db_id, attempt, info,
                                            key_col, sid, value_kind, value_cols, value_fn, user_cols)
                    _injected_failure(tc, db_id, attempt)
                    break
                except Exception as exc:  # noqa: BLE001 - classified, then retried or reported
                    err = _classify(exc, db_id, attempt)
                    if not _retryable(err) or i == max_retries:
                        raise _task_error(err, [db_id]) from None
                    log.warning("shard_write_retrying db_id=%s attempt=%s error=%s", db_id, attempt, err)
                    if i == 0 and spool is not None:
                        spool.drain(batches)  # rows not read yet, so replays see the whole partition
                    time.sleep(backoff0 * (mult ** i))
        finally:
            if spool is not None:
                spool.close()
        yield pa.RecordBatch.from_arrays([pa.array([json.dumps(result)], pa.string())], names=[_RESULT_COL])

    return write


def _write_attempt(batches, spool, route_opts, db_id, attempt, info, key_col, sid,
                   value_kind, value_cols, value_fn, user_cols):
    import pyarrow.compute as pc

    w = _native.AttemptWriter(route_opts, db_id, attempt, info["stage_id"], info["task_attempt_id"])
    try:
        for b in batches:
            if spool is not None:
                spool.add(b)
            if b.num_rows == 0:
                continue
            ids = b.column(sid)
            lo, hi = pc.min_max(ids).values()
            if lo.as_py() != db_id or hi.as_py() != db_id:
                raise ShardAssignmentError(
                    f"partition {db_id} received rows of shard ids {lo.as_py()}..{hi.as_py()}; "
                    "the partitioning does not match the routing")
            clean = b.select(user_cols)
            if value_kind == "callable":
                clean = _encode_callable(clean, key_col, value_fn)
                w.add_arrow(clean, key_col, "binary_col", ["value"], None)
            else:
                w.add_arrow(clean, key_col, value_kind, value_cols, None)
        return w.finish()
    finally:
        w.close()


def _encode_callable(batch, key_col, value_spec):
    """ValueSpec.callable_encoder: the user's function needs Row objects (Python per row is
    inherent to a Python callable; binary_col / json_cols never come here)."""
    import pyarrow as pa
    from pyspark.sql import Row

    values = []
    for d in batch.to_pylist():
        v = value_spec.encode(Row(**d))
        if isinstance(v, (bytearray, memoryview)):
            v = bytes(v)
        elif isinstance(v, str):
            v = v.encode("utf-8")
        elif not isinstance(v, bytes):
            raise ConfigValidationError(f"value encoder must return bytes, got {type(v).__name__}")
        values.append(v)
    return pa.RecordBatch.from_arrays([batch.column(key_col), pa.array(values, pa.binary())],
                                      names=[key_col, "value"])


class _Spool:
    """Keeps a task's batches in a local Arrow IPC file so an in-task retry (shard_retry) can replay
    the partition: Spark's input iterator can be read only once."""

    def __init__(self):
        self._dir = tempfile.mkdtemp(prefix="shardy-spool-")
        self._path = os.path.join(self._dir, "rows.arrow")
        self._writer = None
        self._sink = None

    def add(self, batch):
        import pyarrow as pa

        if self._writer is None:
            self._sink = pa.OSFile(self._path, "wb")
            self._writer = pa.ipc.new_stream(self._sink, batch.schema)
        self._writer.write_batch(batch)

    def drain(self, batches):
        for b in batches:
            self.add(b)

    def replay(self) -> Iterator:
        import pyarrow as pa

        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = None
        if not os.path.exists(self._path):
            return iter(())
        reader = pa.ipc.open_stream(pa.memory_map(self._path))
        return iter(reader)

    def close(self):
        if self._writer is not None:
            try:
                self._writer.close()
                self._sink.close()
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(self._dir, ignore_errors=True)
