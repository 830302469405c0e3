"""Spark writer on local-mode Spark (local[2,4]): the seed's examples, value specs, retries,
shard_retry, the seed's failure-mode table, conf overrides and caching."""
import json
import os
from datetime import timedelta

import pytest

from spark_helpers import attempt_dirs, build_with_hook, cli_multiget, local_property, s3_get, s3_keys, s3_options, winners_only

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import functions as F  # noqa: E402

from shardyfusion import (  # noqa: E402
    CelShardedWriteConfig,
    ColumnWriteInput,
    ConfigValidationError,
    HashShardedWriteConfig,
    PublishCurrentError,
    PublishManifestError,
    ShardAssignmentError,
    ShardCoverageError,
    SparkWriteOptions,
)
from shardyfusion.reader import ShardedReader  # noqa: E402
from shardyfusion.serde import ValueSpec  # noqa: E402
from shardyfusion.sqlite_adapter import SqliteFactory  # noqa: E402
from shardyfusion.writer.spark import write_cel_sharded, write_hash_sharded  # noqa: E402

N = 5000


def payload_df(spark, n=N, parts=3):
    return spark.range(0, n, numPartitions=parts).select(
        F.col("id"), F.expr("cast(concat('payload-', id) as binary)").alias("payload")
    )


def expect(i):
    return b"payload-%d" % i


def read_all(prefix, keys, tmp_path):
    with ShardedReader(prefix, local_root=str(tmp_path / "reader-cache")) as r:
        return {k: r.get(k) for k in keys}


def check_snapshot(prefix, n, tmp_path, value=expect):
    keys = list(range(n)) + [n, n + 1, 10**12]
    got = read_all(prefix, keys, tmp_path)
    assert got == {k: (value(k) if k < n else None) for k in keys}
    cli = cli_multiget(prefix, keys)
    assert cli == got


# --- the seed's examples, only the prefix changed ---------------------------------------------
def test_seed_hash_example(spark_local, prefix, tmp_path):
    df = payload_df(spark_local)
    config = HashShardedWriteConfig(num_dbs=16, s3_prefix=prefix)
    result = write_hash_sharded(df, config, ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload")))
    assert result.manifest_ref.ref == str(result.manifest_ref)
    assert result.manifest_ref.ref.startswith("file://")
    assert len(result.winners) == 16
    assert sum(w.row_count for w in result.winners) == N
    assert [w.db_id for w in result.winners] == list(range(16))
    check_snapshot(prefix, N, tmp_path)
    winners_only(prefix, result)


def test_seed_sqlite_backend_example(spark_local, prefix, tmp_path):
    df = payload_df(spark_local)
    config = HashShardedWriteConfig(num_dbs=16, s3_prefix=prefix, adapter_factory=SqliteFactory())
    write_hash_sharded(df, config, ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload")))
    check_snapshot(prefix, N, tmp_path)


def test_seed_cel_example_as_written_is_a_clear_type_error(spark_local, prefix):
    df = payload_df(spark_local)
    with pytest.raises(ConfigValidationError) as ei:
        config = CelShardedWriteConfig(cel_expr="key % 16u", cel_columns={"key": "int"}, s3_prefix=prefix)
        write_cel_sharded(df, config, ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload")))
    msg = str(ei.value)
    assert "key % 16" in msg and "uint(key) % 16u" in msg
    assert not os.path.exists(os.path.join(prefix, "_CURRENT"))


def test_seed_cel_example_well_typed(spark_local, prefix, tmp_path):
    df = payload_df(spark_local)
    config = CelShardedWriteConfig(cel_expr="key % 16", cel_columns={"key": "int"}, s3_prefix=prefix)
    result = write_cel_sharded(df, config, ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload")))
    assert len(result.winners) == 16
    for w in result.winners:  # direct mode: key % 16 is the shard
        assert w.min_key % 16 == w.db_id and w.max_key % 16 == w.db_id
    check_snapshot(prefix, N, tmp_path)


def test_cel_categorical_routing_values(spark_local, prefix, tmp_path):
    df = payload_df(spark_local, n=600).withColumn("region", F.expr("element_at(array('eu','us','ap'), cast(id % 3 as int) + 1)"))
    config = CelShardedWriteConfig(cel_expr="region", cel_columns={"region": "string"},
                                   routing_values=["ap", "eu", "us"], s3_prefix=prefix)
    result = write_cel_sharded(df, config, ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload")))
    assert [w.row_count for w in result.winners] == [200, 200, 200]
    with ShardedReader(prefix, local_root=str(tmp_path / "c")) as r:
        assert r.get(4, routing_context={"region": "us"}) == expect(4)


def test_cel_categorical_routing_values_inferred_from_data(spark_local, prefix, tmp_path):
    df = payload_df(spark_local, n=600).withColumn("region", F.expr("element_at(array('eu','us','ap'), cast(id % 3 as int) + 1)"))
    config = CelShardedWriteConfig(cel_expr="region", cel_columns={"region": "string"},
                                   infer_routing_values_from_data=True, s3_prefix=prefix)
    result = write_cel_sharded(df, config, ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload")))
    assert config.routing_values is None  # the caller's config is untouched
    assert [w.row_count for w in result.winners] == [200, 200, 200]
    with ShardedReader(prefix, local_root=str(tmp_path / "c")) as r:
        assert r.get(4, routing_context={"region": "us"}) == expect(4)  # sorted: ap=0, eu=1, us=2
        assert r.route_key(4, routing_context={"region": "us"}) == 2
    bad = CelShardedWriteConfig(cel_expr="region + 'x'", cel_columns={"region": "string"},
                                infer_routing_values_from_data=True, s3_prefix=prefix)
    with pytest.raises(ConfigValidationError, match="single column name"):
        write_cel_sharded(df, bad, ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload")))


# --- value specs and key types ----------------------------------------------------------------
def test_json_cols_and_string_keys(spark_local, prefix, tmp_path):
    df = spark_local.range(0, 300).select(
        F.concat(F.lit("user-"), F.col("id")).alias("name"), F.col("id").alias("n"),
        (F.col("id") / 4).alias("ratio"), (F.col("id") % 2 == 0).alias("even"))
    config = HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix, key_encoding="utf8")
    write_hash_sharded(df, config, ColumnWriteInput(key_col="name", value_spec=ValueSpec.json_cols(["n", "ratio", "even"])))
    with ShardedReader(prefix, local_root=str(tmp_path / "c")) as r:
        for i in (0, 1, 7, 299):
            assert r.get(f"user-{i}") == json.dumps({"n": i, "ratio": i / 4, "even": i % 2 == 0},
                                                    sort_keys=True, separators=(",", ":")).encode()


def test_callable_value_spec(spark_local, prefix, tmp_path):
    df = payload_df(spark_local, n=500)
    spec = ValueSpec.callable_encoder(lambda row: b"cb-" + bytes(row["payload"]))
    write_hash_sharded(df, HashShardedWriteConfig(num_dbs=3, s3_prefix=prefix),
                       ColumnWriteInput(key_col="id", value_spec=spec))
    check_snapshot(prefix, 500, tmp_path, value=lambda i: b"cb-payload-%d" % i)


def test_max_keys_per_shard_counts_rows(spark_local, prefix):
    df = payload_df(spark_local, n=1000)
    result = write_hash_sharded(df, HashShardedWriteConfig(max_keys_per_shard=300, s3_prefix=prefix),
                                ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload")))
    assert result.stats.num_dbs == 4 if hasattr(result, "stats") and hasattr(result.stats, "num_dbs") else True
    assert max(w.db_id for w in result.winners) == 3


def test_rate_limit_is_per_partition(spark_local, prefix, tmp_path):
    # 2 shards x ~1500 rows at 500 rows/s: the bucket starts full (500), so each shard task needs
    # >= ~2 s; both run in parallel (per-partition scope), so the build takes ~2 s, not ~5 s.
    config = HashShardedWriteConfig(num_dbs=2, s3_prefix=prefix, max_writes_per_second=500, batch_size=100)
    result = write_hash_sharded(payload_df(spark_local, n=3000), config, _input())
    assert all(w.writer_info.duration_ms >= 1500 for w in result.winners), [w.writer_info for w in result.winners]
    check_snapshot(prefix, 3000, tmp_path)


# --- retries, shard_retry, loser sweep --------------------------------------------------------
def test_task_failure_after_upload_is_retried_and_loser_swept(spark_local, prefix, tmp_path):
    # one task per shard: a failure repeats only its own shard
    result = build_with_hook(spark_local, "fail_after_upload", "2:0,5:0,5:1", payload_df(spark_local),
                             HashShardedWriteConfig(num_dbs=8, s3_prefix=prefix), _input(),
                             SparkWriteOptions(shard_write_tasks=8))
    att = {w.db_id: w.attempt for w in result.winners}
    assert att[2] == 1 and att[5] == 2 and all(a == 0 for d, a in att.items() if d not in (2, 5))
    check_snapshot(prefix, N, tmp_path)
    winners_only(prefix, result)


def test_shard_retry_in_task_composes_attempt_numbers(spark_local, prefix, tmp_path):
    from shardyfusion.type_defs import RetryConfig

    # shard 1: in-task tries 0 and 1 fail after upload, try 2 wins (attempt 2);
    # shard 3: all 3 in-task tries of Spark attempt 0 fail → Spark retries the task: attempt 3 wins.
    config = HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix,
                                    shard_retry=RetryConfig(max_retries=2, initial_backoff=timedelta(seconds=0.01)))
    result = build_with_hook(spark_local, "fail_after_upload", "1:0,1:1,3:0,3:1,3:2", payload_df(spark_local),
                             config, _input(), SparkWriteOptions(shard_write_tasks=4))
    att = {w.db_id: w.attempt for w in result.winners}
    assert att == {0: 0, 1: 2, 2: 0, 3: 3}
    check_snapshot(prefix, N, tmp_path)
    winners_only(prefix, result)


def test_shards_are_dealt_to_one_task_per_core(spark_local, prefix, tmp_path):
    # local[2]: the 8 shards go to 2 tasks (largest first to the least loaded), every shard once
    result = write_hash_sharded(payload_df(spark_local), HashShardedWriteConfig(num_dbs=8, s3_prefix=prefix), _input())
    tasks = {}
    for w in result.winners:
        tasks.setdefault(w.writer_info.task_attempt_id, []).append(w.db_id)
    assert len(tasks) == 2 and sorted(d for v in tasks.values() for d in v) == list(range(8)), tasks
    check_snapshot(prefix, N, tmp_path)


def test_grouped_task_failure_rewrites_its_shards(spark_local, prefix, tmp_path):
    # 6 shards in 2 tasks: shard 4's first try fails after upload, so Spark reruns its whole task;
    # every shard of that task wins with attempt 1, the other task's with 0; the first run's
    # uploads are swept
    result = build_with_hook(spark_local, "fail_after_upload", "4:0", payload_df(spark_local),
                             HashShardedWriteConfig(num_dbs=6, s3_prefix=prefix), _input(),
                             SparkWriteOptions(shard_write_tasks=2))
    by_task = {}
    for w in result.winners:
        by_task.setdefault(w.writer_info.task_attempt_id, set()).add((w.db_id, w.attempt))
    assert len(by_task) == 2, by_task
    rerun = [g for g in by_task.values() if (4, 1) in g]
    assert len(rerun) == 1 and {a for _, a in rerun[0]} == {1} and len(rerun[0]) >= 2, by_task
    other = [g for g in by_task.values() if (4, 1) not in g][0]
    assert {a for _, a in other} == {0}, by_task
    check_snapshot(prefix, N, tmp_path)
    winners_only(prefix, result)


def test_shard_write_tasks_is_validated(spark_local, prefix):
    with pytest.raises(ConfigValidationError, match="options.shard_write_tasks must be > 0"):
        write_hash_sharded(payload_df(spark_local, n=10), HashShardedWriteConfig(num_dbs=2, s3_prefix=prefix),
                           _input(), SparkWriteOptions(shard_write_tasks=0))
    assert not os.path.exists(prefix) or not os.listdir(prefix)


def test_stage1_failure_is_retried_and_its_exchange_swept(spark_local, prefix, tmp_path):
    # partition 1's first attempt fails after writing its exchange object: Spark reruns it
    # (attempt 1), stage 2 reads only the rerun's object, publish sweeps the other
    result = build_with_hook(spark_local, "fail_after_exchange", "1:0", payload_df(spark_local),
                             HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix), _input())
    check_snapshot(prefix, N, tmp_path)
    winners_only(prefix, result)  # no _exchange/part=*/attempt=* left either


def test_stage1_failure_exhausted_is_a_coverage_error(spark_local, prefix, tmp_path):
    first = write_hash_sharded(payload_df(spark_local, n=100), HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix),
                               _input())
    before = open(os.path.join(prefix, "_CURRENT")).read()
    with local_property(spark_local, "shardyfusion.test.fail_after_exchange", "0:0,0:1,0:2,0:3"):
        with pytest.raises(ShardCoverageError, match=r"Stage 1 \(routing and exchange\) failed"):
            write_hash_sharded(payload_df(spark_local), HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix), _input())
    assert open(os.path.join(prefix, "_CURRENT")).read() == before
    check_snapshot(prefix, 100, tmp_path)
    winners_only(prefix, first)


def test_duplicate_keys_across_partitions_highest_partition_wins(spark_local, prefix, tmp_path):
    # range partitions are contiguous: key k comes from ids k, k + 10, k + 20 in partitions 0, 1, 2;
    # with one stage-1 task per input partition (no coalesce) the highest partition wins
    df = spark_local.range(0, 30, numPartitions=3).select(
        (F.col("id") % 10).alias("id"), F.expr("cast(concat('payload-', id) as binary)").alias("payload"))
    result = write_hash_sharded(df, HashShardedWriteConfig(num_dbs=3, s3_prefix=prefix), _input(),
                                SparkWriteOptions(exchange_tasks=3))
    assert sum(w.row_count for w in result.winners) == 30  # rows written, duplicates counted
    got = read_all(prefix, list(range(10)), tmp_path)
    assert got == {k: b"payload-%d" % (k + 20) for k in range(10)}


def test_input_is_coalesced_to_one_exchange_task_per_core(spark_local, prefix, tmp_path, caplog):
    # 7 input partitions of 1000 ids on local[2]: stage 1 runs 2 tasks. Key k = id % 500 occurs
    # twice in every partition (ids p*1000 + k and p*1000 + 500 + k): within a partition the later
    # row wins, so the value comes from some partition's second occurrence
    df = spark_local.range(0, 7000, numPartitions=7).select(
        (F.col("id") % 500).alias("id"), F.expr("cast(concat('payload-', id) as binary)").alias("payload"))
    with caplog.at_level("INFO", logger="shardyfusion.writer.spark"):
        result = write_hash_sharded(df, HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix), _input())
    assert "exchange_tasks=2 " in caplog.text, caplog.text
    assert sum(w.row_count for w in result.winners) == 7000
    got = read_all(prefix, list(range(500)), tmp_path)
    assert set(got) == set(range(500))
    for k, v in got.items():
        assert v in {b"payload-%d" % (p * 1000 + 500 + k) for p in range(7)}, (k, v)


# --- the seed's failure-mode table ------------------------------------------------------------
def _input():
    return ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload"))


def test_failure_bad_config(spark_local, prefix):
    with pytest.raises(ConfigValidationError, match="num_dbs must be > 0"):
        HashShardedWriteConfig(num_dbs=0, s3_prefix=prefix)
    assert not os.path.exists(prefix)


def test_failure_shard_id_col_collision(spark_local, prefix, tmp_path):
    df = payload_df(spark_local, n=10).withColumn("_shard_id", F.lit(1))
    with pytest.raises(ConfigValidationError, match="shard_id_col '_shard_id' conflicts with user data column"):
        write_hash_sharded(df, HashShardedWriteConfig(num_dbs=2, s3_prefix=prefix), _input())
    assert not os.path.exists(prefix)
    # the documented way out: another shard_id_col
    write_hash_sharded(df, HashShardedWriteConfig(num_dbs=2, s3_prefix=prefix, shard_id_col="_sid"), _input())
    check_snapshot(prefix, 10, tmp_path)


def test_failure_routing_mismatch(spark_local, prefix, monkeypatch):
    from shardyfusion import _native

    real = _native.route_hash
    monkeypatch.setattr(_native, "route_hash", lambda key, n: (real(key, n) + 1) % n)
    with pytest.raises(ShardAssignmentError, match=r"Spark/Python routing mismatch in \d+/20 sampled rows"):
        write_hash_sharded(payload_df(spark_local), HashShardedWriteConfig(num_dbs=8, s3_prefix=prefix), _input())
    assert not os.path.exists(os.path.join(prefix, "_CURRENT"))


def test_failure_all_attempts_of_a_shard_fail(spark_local, prefix, tmp_path):
    first = write_hash_sharded(payload_df(spark_local, n=100), HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix),
                               _input())
    before = open(os.path.join(prefix, "_CURRENT")).read()
    with local_property(spark_local, "shardyfusion.test.fail_after_upload", "3:0,3:1,3:2,3:3"):
        with pytest.raises(ShardCoverageError, match=r"shard\(s\) \[3\] failed") as ei:
            write_hash_sharded(payload_df(spark_local), HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix), _input())
    assert ei.value.__cause__ is not None
    assert open(os.path.join(prefix, "_CURRENT")).read() == before
    check_snapshot(prefix, 100, tmp_path)
    winners_only(prefix, first)  # the failed run's uploads are gone


def test_failure_null_key_names_the_problem(spark_local, prefix):
    df = payload_df(spark_local, n=50).withColumn("id", F.expr("case when id = 17 then null else id end"))
    with pytest.raises(ShardAssignmentError, match="null"):
        write_hash_sharded(df, HashShardedWriteConfig(num_dbs=2, s3_prefix=prefix), _input())
    assert not os.path.exists(os.path.join(prefix, "_CURRENT"))


def test_failure_manifest_publish(spark_local, s3_bucket, fault_proxy, tmp_path):
    # every PUT of the manifest is refused (503 on all attempts); shard uploads pass
    proxy = fault_proxy("--schedule", ",".join(["503"] * 40), "--only", "PUT", "--path-contains", "/manifests/")
    prefix = f"s3://{s3_bucket}/snap"
    config = HashShardedWriteConfig(num_dbs=2, s3_prefix=prefix, s3_connection_options=s3_options(proxy, max_attempts=2))
    with pytest.raises(PublishManifestError) as ei:
        write_hash_sharded(payload_df(spark_local, n=100), config, _input())
    assert not isinstance(ei.value, PublishCurrentError)
    assert "503" in str(ei.value)
    assert s3_get(s3_bucket, "snap/_CURRENT") is None
    assert s3_keys(s3_bucket, "snap/shards/") == []  # the failed run's uploads are gone


def test_failure_current_publish(spark_local, s3_bucket, fault_proxy, tmp_path):
    prefix = f"s3://{s3_bucket}/snap"
    write_hash_sharded(payload_df(spark_local, n=100),
                       HashShardedWriteConfig(num_dbs=2, s3_prefix=prefix, s3_connection_options=s3_options()), _input())
    before = s3_get(s3_bucket, "snap/_CURRENT")
    proxy = fault_proxy("--schedule", ",".join(["503"] * 40), "--only", "PUT", "--path-contains", "_CURRENT")
    config = HashShardedWriteConfig(num_dbs=2, s3_prefix=prefix, s3_connection_options=s3_options(proxy, max_attempts=2))
    with pytest.raises(PublishCurrentError) as ei:
        write_hash_sharded(payload_df(spark_local, n=200), config, _input())
    assert isinstance(ei.value, PublishManifestError)
    ref = ei.value.manifest_ref
    assert ref and ref.startswith(f"s3://{s3_bucket}/snap/manifests/")
    assert s3_get(s3_bucket, ref.split("/", 3)[3]) is not None  # the manifest exists: a rerun can point at it
    assert s3_get(s3_bucket, "snap/_CURRENT") == before
    with ShardedReader(prefix, local_root=str(tmp_path / "c"), s3_connection_options=s3_options()) as r:
        assert r.get(150) is None and r.get(99) == expect(99)


def test_s3_build_reads_back(spark_local, s3_bucket, tmp_path):
    prefix = f"s3://{s3_bucket}/users"
    config = HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix, s3_connection_options=s3_options())
    result = write_hash_sharded(payload_df(spark_local, n=1000), config, _input())
    assert result.manifest_ref.ref.startswith(f"s3://{s3_bucket}/users/manifests/")
    with ShardedReader(prefix, local_root=str(tmp_path / "c"), s3_connection_options=s3_options()) as r:
        assert [r.get(k) for k in (0, 999, 1000)] == [expect(0), expect(999), None]
    shards = s3_keys(s3_bucket, "users/shards/")
    assert len(shards) == 4 and all(k.endswith("/attempt=00/shard.db") for k in shards)


def test_credential_provider_reaches_the_tasks(spark_local, s3s, tmp_path):
    # s3s-fs checks SigV4 signatures; the executors' environment holds other (moto) keys, so only
    # a provider shipped to the tasks can sign stage 1's exchange upload, stage 2's ranged reads
    # and shard uploads, and the driver's run record and publish
    from shardyfusion import ShardyfusionError, StaticCredentialProvider

    good = StaticCredentialProvider(access_key_id=s3s["key"], secret_access_key=s3s["secret"])
    config = HashShardedWriteConfig(num_dbs=3, s3_prefix=s3s["prefix"], s3_connection_options=s3s["options"],
                                    credential_provider=good)
    write_hash_sharded(payload_df(spark_local, n=600), config, _input())
    with ShardedReader(s3s["prefix"] + "/_CURRENT", str(tmp_path / "c"), s3_connection_options=s3s["options"],
                       credential_provider=good) as r:
        assert r.multi_get([0, 599, 600]) == {0: expect(0), 599: expect(599), 600: None}
    config.credential_provider = StaticCredentialProvider(access_key_id=s3s["key"], secret_access_key="wrong-secret-1")
    with pytest.raises(ShardyfusionError) as ei:
        write_hash_sharded(payload_df(spark_local, n=10), config, _input())
    assert "wrong-secret-1" not in str(ei.value)


# --- options ----------------------------------------------------------------------------------
def test_conf_overrides_restored_and_cache_unpersisted(spark_local, prefix, tmp_path):
    from shardyfusion import SparkWriteOptions

    conf = spark_local.conf
    conf.set("spark.sql.shuffle.partitions", "4")
    conf.unset("spark.sql.files.maxRecordsPerFile")
    df = payload_df(spark_local, n=300)
    opts = SparkWriteOptions(cache_input=True, spark_conf_overrides={
        "spark.sql.shuffle.partitions": "7", "spark.sql.files.maxRecordsPerFile": "123"})
    write_hash_sharded(df, HashShardedWriteConfig(num_dbs=3, s3_prefix=prefix), _input(), opts)
    assert conf.get("spark.sql.shuffle.partitions") == "4"
    assert conf.get("spark.sql.files.maxRecordsPerFile", None) in (None, "0")
    assert not df.is_cached
    check_snapshot(prefix, 300, tmp_path)
