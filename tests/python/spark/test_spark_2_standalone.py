"""Spark writer on a standalone cluster (master + two workers on loopback, separate executors):
the seed example end to end, task retries across executors, speculative execution with a
deliberately slow task, and S3."""
import pytest

from spark_helpers import build_with_hook, cli_multiget, s3_keys, s3_options, winners_only

pyspark = pytest.importorskip("pyspark")
from pyspark.sql import functions as F  # noqa: E402

from shardyfusion import ColumnWriteInput, HashShardedWriteConfig  # noqa: E402
from shardyfusion.reader import ShardedReader  # noqa: E402
from shardyfusion.serde import ValueSpec  # noqa: E402
from shardyfusion.writer.spark import write_hash_sharded  # noqa: E402

N = 20000


def payload_df(spark, n=N):
    return spark.range(0, n, numPartitions=4).select(
        F.col("id"), F.expr("cast(concat('payload-', id) as binary)").alias("payload"))


def _input():
    return ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload"))


def check(prefix, n, tmp_path, **reader_kw):
    keys = [0, 1, n // 2, n - 1, n, n + 7]
    with ShardedReader(prefix, local_root=str(tmp_path / "cache"), **reader_kw) as r:
        got = {k: r.get(k) for k in keys}
        assert got == {k: (b"payload-%d" % k if k < n else None) for k in keys}
        every = r.multi_get(list(range(n)))
        assert all(every[k] == b"payload-%d" % k for k in range(n))
    return got


def test_seed_example_on_standalone_cluster(spark_cluster, prefix, tmp_path):
    result = write_hash_sharded(payload_df(spark_cluster), HashShardedWriteConfig(num_dbs=16, s3_prefix=prefix), _input())
    assert [w.db_id for w in result.winners] == list(range(16))
    check(prefix, N, tmp_path)
    assert cli_multiget(prefix, [5, N + 1]) == {5: b"payload-5", N + 1: None}
    winners_only(prefix, result)


def test_task_failures_are_retried_on_another_executor(spark_cluster, prefix, tmp_path):
    result = build_with_hook(spark_cluster, "fail_after_upload", "1:0,6:0", payload_df(spark_cluster),
                             HashShardedWriteConfig(num_dbs=8, s3_prefix=prefix), _input())
    att = {w.db_id: w.attempt for w in result.winners}
    assert att[1] >= 1 and att[6] >= 1
    check(prefix, N, tmp_path)
    winners_only(prefix, result)


def test_speculative_execution_is_safe(spark_cluster, prefix, tmp_path):
    """Shard 3's first attempt uploads, then lingers for 20 s: Spark launches a speculative copy
    on the other executor, which wins; the original is killed. The published snapshot is exact and
    only winners' attempt directories remain (the lingering original's upload is swept)."""
    result = build_with_hook(spark_cluster, "sleep_after_upload", "3:0:20", payload_df(spark_cluster),
                             HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix), _input())
    att = {w.db_id: w.attempt for w in result.winners}
    assert att[3] == 1, f"no speculative copy won shard 3: {att}"
    check(prefix, N, tmp_path)
    winners_only(prefix, result)


def test_s3_on_standalone_cluster(spark_cluster, s3_bucket, tmp_path):
    prefix = f"s3://{s3_bucket}/cluster"
    config = HashShardedWriteConfig(num_dbs=4, s3_prefix=prefix, s3_connection_options=s3_options())
    write_hash_sharded(payload_df(spark_cluster, n=2000), config, _input())
    check(prefix, 2000, tmp_path, s3_connection_options=s3_options())
    assert len(s3_keys(s3_bucket, "cluster/shards/")) == 4
