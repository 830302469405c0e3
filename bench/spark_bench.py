"""Spark snapshot build vs Spark's own Parquet write of the same DataFrame, in one run.

10M rows (int64 keys, 100-byte binary values), local[2] Spark, everything on local disk. The input
DataFrame is cached and materialised first, so both writes start from the same in-memory data.
After one warm-up run of each (JVM JIT, Python workers), ROUNDS rounds run every measurement once,
alternating, and each figure is the median over the rounds: single runs on this VM vary by ±20 %,
and alternating keeps slow phases of the machine from landing on one side only.
Every timed run starts after os.sync(), so write-back still pending from the previous run (Parquet
never fsyncs) is not billed to the next one.
Prints spark_build_s, spark_parquet_s and spark_vs_parquet_ratio (target <= 1.5) for the issue's
DataFrame, whose values (the id padded with 'x') Parquet compresses about tenfold; the same three
figures with suffix _incompressible for values that are hash bytes (nothing compresses them, so
both writers move the same bytes); spark_parquet_synced_s, the Parquet write timed until os.sync()
returns (the snapshot build fsyncs its shards before it publishes; Parquet never does), with
spark_vs_parquet_synced_ratio, and the same for the incompressible values; and, as the floor of any mapInArrow pipeline, spark_arrow_passthrough_s: the same DataFrame handed to Python
batch by batch and dropped, with the input coalesced to one task per core as the writer's stage 1
does (with its ratio to the Parquet write), and spark_arrow_passthrough_16_s without the coalesce.

Usage: python bench/spark_bench.py [ROWS] [WORKDIR] [ROUNDS (default 3)]
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

from pyspark import StorageLevel  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from shardyfusion import ColumnWriteInput, HashShardedWriteConfig  # noqa: E402
from shardyfusion.serde import ValueSpec  # noqa: E402
from shardyfusion.writer.spark import write_hash_sharded  # noqa: E402


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    work = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else tempfile.mkdtemp(prefix="shardy-spark-bench-")
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    os.makedirs(work, exist_ok=True)
    spark = (
        SparkSession.builder.master("local[2]").appName("shardy-spark-bench")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "8g")
        .config("spark.sql.shuffle.partitions", "16")
        .config("spark.local.dir", os.path.join(work, "spark-local"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    padded = "cast(rpad(cast(id as string), 100, 'x') as binary)"
    hashed = ("substring(concat(unhex(sha2(cast(id as string), 512)), unhex(sha2(cast(id as string), 384))), "
              "1, 100)")

    def cached(payload):
        d = spark.range(0, rows, numPartitions=16).select(F.col("id"), F.expr(payload).alias("payload"))
        d = d.persist(StorageLevel.MEMORY_ONLY)
        assert d.count() == rows
        return d

    df = cached(padded)

    def start():
        os.sync()
        return time.perf_counter()

    def parquet(run):
        out = os.path.join(work, f"parquet-{run}")
        t = start()
        df.write.mode("overwrite").parquet(out)
        dt = time.perf_counter() - t
        os.sync()  # what the same write costs once it is on disk, as a published snapshot is
        synced = time.perf_counter() - t
        shutil.rmtree(out, ignore_errors=True)
        return dt, synced

    def snapshot(run):
        out = os.path.join(work, f"snapshot-{run}")
        t = start()
        result = write_hash_sharded(df, HashShardedWriteConfig(num_dbs=16, s3_prefix=out),
                                    ColumnWriteInput(key_col="id", value_spec=ValueSpec.binary_col("payload")))
        dt = time.perf_counter() - t
        assert sum(w.row_count for w in result.winners) == rows
        shutil.rmtree(out, ignore_errors=True)
        return dt

    def passthrough(run, coalesce=True):
        """The floor of any mapInArrow pipeline: hand every batch to Python and drop it."""
        import pyarrow as pa

        def sink(batches):
            n = 0
            for b in batches:
                n += b.num_rows
            yield pa.RecordBatch.from_arrays([pa.array([n], pa.int64())], names=["n"])

        t = start()
        src = df.coalesce(spark.sparkContext.defaultParallelism) if coalesce else df
        assert sum(r[0] for r in src.mapInArrow(sink, "n long").collect()) == rows
        return time.perf_counter() - t

    parquet(0)
    snapshot(0)
    passthrough(0)
    times = {"p": [], "ps": [], "s": [], "a": [], "a16": [], "pi": [], "pis": [], "si": []}
    for r in range(1, rounds + 1):
        written, synced = parquet(r)
        times["p"].append(written)
        times["ps"].append(synced)
        times["s"].append(snapshot(r))
        times["a"].append(passthrough(r))
        times["a16"].append(passthrough(r, coalesce=False))
    df.unpersist(blocking=True)
    df = cached(hashed)
    parquet(0)
    snapshot(0)
    for r in range(1, rounds + 1):
        written, synced = parquet(r)
        times["pi"].append(written)
        times["pis"].append(synced)
        times["si"].append(snapshot(r))
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)
    p, ps, s, a, a16, pi, pis, si = (statistics.median(times[k])
                                     for k in ("p", "ps", "s", "a", "a16", "pi", "pis", "si"))
    print(f"spark_rows={rows}")
    print(f"spark_rounds={rounds}")
    print(f"spark_build_s={s:.2f}")
    print(f"spark_parquet_s={p:.2f}")
    print(f"spark_vs_parquet_ratio={s / p:.2f}")
    print(f"spark_parquet_synced_s={ps:.2f}")
    print(f"spark_vs_parquet_synced_ratio={s / ps:.2f}")
    print(f"spark_arrow_passthrough_s={a:.2f}")
    print(f"spark_passthrough_vs_parquet_ratio={a / p:.2f}")
    print(f"spark_arrow_passthrough_16_s={a16:.2f}")
    print(f"spark_build_incompressible_s={si:.2f}")
    print(f"spark_parquet_incompressible_s={pi:.2f}")
    print(f"spark_vs_parquet_incompressible_ratio={si / pi:.2f}")
    print(f"spark_parquet_incompressible_synced_s={pis:.2f}")
    print(f"spark_vs_parquet_incompressible_synced_ratio={si / pis:.2f}")


if __name__ == "__main__":
    main()
