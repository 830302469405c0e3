"""shardyfusion.writer.spark — build a sharded snapshot from a PySpark DataFrame.

Data flow (seed spark-writer.md; spec writer.md §5, §6.2, §7.3) — two Spark stages, no shuffle:

1. validate config/input/options; ``shard_id_col`` collision check (nothing written, no run record);
2. ``SparkConfOverrideContext`` then ``DataFrameCacheContext`` wrap everything below;
3. HASH ``num_dbs`` (``max_keys_per_shard`` → ``df.count()``); the run record opens (C: ``Run``);
4. stage 1 (``mapInArrow`` over the input narrowed by ``coalesce`` to at most
   ``options.exchange_tasks`` partitions, default ``defaultParallelism`` — no shuffle; one task per
   resulting partition): C computes every row's shard id over the
   Arrow buffers (``route_hash_arrow`` / ``CelRouter.route_arrow``) and an ``ExchangeWriter``
   appends each row to its shard's small buffer and full buffers to ONE exchange object per task
   attempt (``.../run_id=R/_exchange/part=PPPPP/attempt=A/rows.run``: sections of one shard's
   records each, in arrival order — no sort, no deduplication, no copy of the partition; for a
   store other than ``file://`` the staged object is rewritten in shard order with one section per
   shard before its upload, so stage 2 needs few ranged GETs). No
   Python per row (except a ``ValueSpec.callable`` encoder), no Spark shuffle, and the rows never
   go back to the JVM. Each task's only output is a small result (its object and sections, plus
   the first rows' keys and ids for ``verify_routing``); the shard id column is never added to
   the user's DataFrame;
5. CEL direct mode: ``num_dbs`` = max id + 1 after checking the ids with rows are exactly 0..max;
6. ``verify_routing``: the first 20 sampled rows' ids are re-derived on the driver with the
   reader's router (``_native.route_hash`` / ``CelRouter.route``); any mismatch →
   ``ShardAssignmentError``;
7. stage 2 (``sc.parallelize(groups, T)``): the shards are dealt to ``T`` tasks
   (``options.shard_write_tasks``, default ``min(num_dbs, defaultParallelism)``), largest shard
   first (by exchange bytes) to the least loaded task, ties by shard id — deterministic, so a
   retried task gets the same shards; each shard is written by exactly one task, and a task writes
   its shards one after another. For each shard an ``AttemptWriter`` indexes its sections of every
   exchange object in place (partition order, then object order: for a key found in several
   stage-1 partitions the highest wins — the highest input partition when nothing was coalesced,
   see ``SparkWriteOptions``; within a partition the last row wins), sorts once and writes SQLite in
   key order (so ``sort_within_partitions`` holds by construction), under ``.../db=NNNNN/attempt=NN``
   where ``attempt = spark_attempt × (1 + shard_retry.max_retries) + retry`` — Spark retries,
   speculative copies and in-task retries never share a path (in-task retries re-read the
   sections, which stay in the store);
8. one small result per task reaches the driver; the driver waits until no task of either stage is
   still running (killed speculative copies included), then C selects winners (lowest attempt,
   then task attempt id, then URL), publishes manifest then ``_CURRENT`` and sweeps every
   non-winning attempt and the whole exchange under the run.

Errors follow the seed's failure table: bad config / collision → ``ConfigValidationError``; routing
mismatch or unroutable keys → ``ShardAssignmentError``; a shard whose every attempt failed →
``ShardCoverageError`` (the cause chained); publish failures → ``PublishManifestError`` /
``PublishCurrentError``. After the run record exists, any failure marks the run failed and deletes
what the run uploaded.
"""
from __future__ import annotations

import heapq
import json
import logging
import pickle
import re
import time
import uuid
from typing import Dict, List, Optional

from .. import _native
from .._engine import build_result, credentials_opts, native_opts, raise_native
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


def _group_shards(sections: List[list], ntasks: int) -> List[list]:
    """Deals the shards to ntasks groups: largest (exchange bytes) first to the least loaded
    group, ties by shard id / group index. Deterministic for the same stage-1 results."""
    sizes = [sum(sec[2] for sec in secs) for secs in sections]
    ntasks = max(1, min(ntasks, len(sections)))
    groups: List[list] = [[] for _ in range(ntasks)]
    loads = [(0, i) for i in range(ntasks)]  # heap of (bytes, group)
    for db_id in sorted(range(len(sections)), key=lambda d: (-sizes[d], d)):
        load, g = heapq.heappop(loads)
        groups[g].append((db_id, sections[db_id]))
        heapq.heappush(loads, (load + sizes[db_id], g))
    for g in groups:
        g.sort(key=lambda item: item[0])
    return groups


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


def _infer_routing_values(data, config, input) -> list:  # noqa: A002
    """Categorical CEL routing from the data: the sorted distinct values of the expression's single
    column (one Spark ``distinct`` job before the run starts; ints numerically, str by UTF-8 bytes,
    as the Python writer does). Other expressions need explicit routing_values."""
    expr = config.cel_expr.strip()
    if expr not in config.cel_columns:
        raise ConfigValidationError(
            "infer_routing_values_from_data needs cel_expr to be a single column name "
            f"(one of {sorted(config.cel_columns)}); got {expr!r} — pass routing_values instead"
        )
    col = expr if expr in data.columns else (input.key_col if expr == "key" else None)
    if col is None:
        raise ConfigValidationError(f"infer_routing_values_from_data: '{expr}' is not a column of the DataFrame")
    tokens = [r[0] for r in data.select(col).distinct().collect()]
    for v in tokens:
        if v is None or isinstance(v, bool) or not isinstance(v, (int, str)):
            raise ConfigValidationError(
                f"Inferred routing values must be int or str; column '{col}' holds {type(v).__name__}")
    if not tokens:
        raise ConfigValidationError("infer_routing_values_from_data: the DataFrame has no rows to infer from")
    if all(isinstance(t, str) for t in tokens):
        return sorted(tokens, key=lambda t: t.encode("utf-8"))
    return sorted(tokens)


def _run(spark, data, config, input, options, strategy, value_kind, value_cols, value_fn):  # noqa: A002
    from pyspark.sql import types as T

    if strategy == "cel" and getattr(config, "infer_routing_values_from_data", False):
        from .python import _with_routing_values

        config = _with_routing_values(config, _infer_routing_values(data, config, input))
    num_dbs = _resolve_num_dbs(data, config, strategy)
    opts = native_opts(config, key_col=input.key_col, writer_type="spark", num_dbs=num_dbs)
    try:
        with credentials_opts(_provider(config)) as creds:
            run = _native.Run(dict(opts, **creds))  # validates, compiles CEL, writes the run record
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
    route_opts = dict(opts)
    route_opts["run_id"] = run.run_id
    route_opts["num_dbs"] = num_dbs or 0  # 0: CEL direct mode, ids bounded by 1e6 until discovered
    cel_vars = [c.split(":", 1)[0] for c in route_opts.get("cel_columns") or []] if strategy == "cel" else []
    sample_cols = [input.key_col] + [v for v in cel_vars if v in data.columns and v != input.key_col]
    retry = getattr(getattr(config, "retry", None), "shard_retry", None)
    result_schema = T.StructType([T.StructField(_RESULT_COL, T.BinaryType(), False)])
    group = "shardyfusion-" + uuid.uuid4().hex
    t_start = time.monotonic()
    sc = spark.sparkContext
    sc.setJobGroup(group, f"shardyfusion write run_id={run.run_id}", interruptOnCancel=True)
    try:
        # stage 1: route + sort per shard into one exchange object per input partition
        exchange = _exchange_fn(strategy, route_opts, input.key_col, value_kind, value_cols, value_fn, sample_cols,
                                _provider(config))
        try:
            ntasks1 = getattr(options, "exchange_tasks", None) or max(1, int(sc.defaultParallelism))
            source = data.coalesce(ntasks1)  # never adds partitions; narrow, no shuffle
            stage1 = [pickle.loads(r[0]) for r in source.mapInArrow(exchange, result_schema).collect()]
            ntasks1 = len(stage1)
        except Exception as exc:  # noqa: BLE001 - Spark wraps everything; classify by the task's text
            _wait_for_tasks(sc, group)
            _raise_job_failure(exc)
        t_stage1 = time.monotonic()
        stage1.sort(key=lambda x: x["partition"])
        if num_dbs is None:
            num_dbs = _discover_num_dbs(stage1)
            route_opts["num_dbs"] = num_dbs
        if getattr(options, "verify_routing", True):
            _verify_routing(stage1, strategy, route_opts, input.key_col, cel_vars, num_dbs)
        sections: List[list] = [[] for _ in range(num_dbs)]
        for x in stage1:
            for sec in x["sections"]:
                sections[sec["db_id"]].append((x["url"], sec["offset"], sec["length"], sec["rows"]))

        # stage 2: each task merges its shards' sections into shard attempts, one shard at a time
        ntasks = getattr(options, "shard_write_tasks", None) or min(num_dbs, max(1, int(sc.defaultParallelism)))
        groups = _group_shards(sections, ntasks)
        write = _write_fn(route_opts, retry, _provider(config))
        try:
            results = sc.parallelize(groups, len(groups)).mapPartitions(write).collect()
        except Exception as exc:  # noqa: BLE001
            _wait_for_tasks(sc, group)
            _raise_job_failure(exc)
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setLocalProperty("spark.job.description", None)
    _wait_for_tasks(sc, group)
    t_stage2 = time.monotonic()
    attempts = [json.loads(r) for r in results]
    try:
        native = run.publish(attempts)
    except _native.NativeError as err:
        raise_native(err, "publish")
    t_done = time.monotonic()
    log.info("spark_build_timing run_id=%s exchange_tasks=%d shard_write_tasks=%d stage1_s=%.2f stage2_s=%.2f "
             "publish_s=%.2f", run.run_id, ntasks1, len(groups), t_stage1 - t_start, t_stage2 - t_stage1,
             t_done - t_stage2)
    return build_result(native)


def _discover_num_dbs(stage1) -> int:
    ids = sorted({sec["db_id"] for x in stage1 for sec in x["sections"]})
    if not ids:
        return 1
    if ids[0] != 0 or len(ids) != ids[-1] + 1:
        raise ShardAssignmentError(
            f"CEL expression produced non-consecutive shard IDs: distinct count={len(ids)}, max+1={ids[-1] + 1}. "
            "Direct-mode CEL routing must produce every id from 0 to max."
        )
    return ids[-1] + 1


def _verify_routing(stage1, strategy, route_opts, key_col, cel_vars, num_dbs):
    """Re-derives the first sampled rows' ids with the reader's router (spec writer §5.10)."""
    sample = [row for x in stage1 for row in x["sample"]][:VERIFY_SAMPLE]
    if not sample:
        return
    router = _native.CelRouter(route_opts) if strategy == "cel" else None
    bad = []
    try:
        for values, got in sample:
            key = values[key_col]
            if router is None:
                want = _native.route_hash(key, num_dbs)
            else:
                # `key` binds to key_col when no column is named `key` (DESIGN §3)
                want = router.route({v: values.get(v, key) for v in cel_vars})
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
        if not ids:
            raise ShardCoverageError(
                f"Stage 1 (routing and exchange) failed after Spark's retries, so no shard could be written; "
                f"last error: {cls_name}: {msg}"
            ) from exc
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
    what = f"Shard write failed for db_id={db_id}" if db_id >= 0 else "Exchange write failed"
    return ShardWriteError(f"{what}, attempt={attempt}: {type(exc).__name__}: {exc}")


def _retryable(err: BaseException) -> bool:
    flag = getattr(err, "retryable", None)
    return bool(flag) if flag is not None else type(err).__name__ in _RETRYABLE


def _injected_failure(tc, hook: str, ident: int, attempt: int) -> None:
    """Test hooks (Spark local properties, set by tests with ``sc.setLocalProperty``):
    ``shardyfusion.test.fail_after_upload`` = "db:attempt,..." makes those shard attempts fail after
    their upload; ``shardyfusion.test.fail_after_exchange`` = "partition:attempt,..." does the same
    for stage-1 tasks after their exchange object is written; ``shardyfusion.test.sleep_after_upload``
    = "db:attempt:seconds,..." makes shard attempts linger (a slow task for speculative
    execution). All prove that non-winning attempts are swept."""
    if tc is None:
        return
    if hook == "fail_after_upload":
        spec = tc.getLocalProperty("shardyfusion.test.sleep_after_upload")
        for item in (spec.split(",") if spec else []):
            db, att, secs = item.split(":")
            if int(db) == ident and int(att) == attempt:
                time.sleep(float(secs))
    spec = tc.getLocalProperty("shardyfusion.test." + hook)
    if spec and f"{ident}:{attempt}" in spec.split(","):
        what = "db_id" if hook == "fail_after_upload" else "partition"
        raise ShardWriteError(f"injected failure ({hook}, {what}={ident}, attempt={attempt})")


def _task_error(exc: BaseException, db_ids) -> RuntimeError:
    ids = ",".join(str(d) for d in sorted(db_ids))
    return RuntimeError(f"{_ERR_MARK}[{type(exc).__name__}][{ids}]: {exc} {_ERR_MARK}_END")


def _provider(config):
    """config.storage.credential_provider (pickled into the tasks, resolved there per task)."""
    return getattr(getattr(config, "storage", None), "credential_provider", None)


def _task_opts(route_opts, creds):
    return dict(route_opts, **creds) if creds else route_opts


def _exchange_fn(strategy, route_opts, key_col, value_kind, value_cols, value_fn, sample_cols, provider=None):
    num_dbs = route_opts["num_dbs"]

    def exchange(batches):
        import pyarrow as pa
        from pyspark import TaskContext

        tc = TaskContext.get()
        part = tc.partitionId() if tc else 0
        attempt = tc.attemptNumber() if tc else 0
        router = _native.CelRouter(route_opts) if strategy == "cel" else None
        w = None
        sample: list = []
        try:
            with credentials_opts(provider) as creds:  # the C writer reads the file while opening
                w = _native.ExchangeWriter(_task_opts(route_opts, creds), part, attempt)
            for b in batches:
                if b.num_rows == 0:
                    continue
                if router is None:
                    ids = _native.route_hash_arrow(b, key_col, num_dbs)
                else:
                    ids = router.route_arrow(b, key_col)
                if len(sample) < VERIFY_SAMPLE:
                    take = b.slice(0, VERIFY_SAMPLE - len(sample))
                    got = memoryview(ids).cast("i")
                    sample += [(row, got[i]) for i, row in enumerate(take.select(sample_cols).to_pylist())]
                if value_kind == "callable":
                    enc = _encode_callable(b, key_col, value_fn)
                    w.add_arrow(enc, key_col, "binary_col", ["value"], None, ids)
                else:
                    w.add_arrow(b, key_col, value_kind, value_cols, None, ids)
            result = w.finish()
            _injected_failure(tc, "fail_after_exchange", part, attempt)
        except Exception as exc:  # noqa: BLE001 - classified for the driver
            raise _task_error(_classify(exc, -1, attempt), []) from None
        finally:
            if w is not None:
                w.close()
            if router is not None:
                router.close()
        result["sample"] = sample
        yield pa.RecordBatch.from_arrays([pa.array([pickle.dumps(result)], pa.binary())], names=[_RESULT_COL])

    return exchange


def _write_fn(route_opts, retry, provider=None):
    max_retries = int(getattr(retry, "max_retries", 0) or 0) if retry is not None else 0
    backoff0 = retry.initial_backoff.total_seconds() if retry is not None else 0.0
    mult = float(getattr(retry, "backoff_multiplier", 2.0)) if retry is not None else 1.0

    def write(items):
        from pyspark import TaskContext

        tc = TaskContext.get()
        spark_attempt = tc.attemptNumber() if tc else 0
        stage_id = tc.stageId() if tc else None
        task_attempt_id = tc.taskAttemptId() if tc else None
        for db_id, sections in (item for group in items for item in group):
            result = None
            for i in range(1 + max_retries):
                attempt = spark_attempt * (1 + max_retries) + i
                try:
                    with credentials_opts(provider) as creds:
                        w = _native.AttemptWriter(_task_opts(route_opts, creds), db_id, attempt, stage_id,
                                                  task_attempt_id)
                    try:
                        for url, offset, length, rows in sections:
                            w.add_section(url, offset, length, rows)
                        result = w.finish()
                    finally:
                        w.close()
                    _injected_failure(tc, "fail_after_upload", db_id, attempt)
                    break
                except Exception as exc:  # noqa: BLE001 - classified, then retried or reported
                    err = _classify(exc, db_id, attempt)
                    if not _retryable(err) or i == max_retries:
                        raise _task_error(err, [db_id]) from None
                    log.warning("shard_write_retrying db_id=%s attempt=%s error=%s", db_id, attempt, err)
                    time.sleep(backoff0 * (mult ** i))
            yield json.dumps(result)

    return write


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
