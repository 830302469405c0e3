"""Python writer end to end on a local folder (writer spec §2.2, §5.17; acceptance 27–38), read
back with ShardedReader and with the shardy CLI."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from shardyfusion import (
    CelShardedWriteConfig,
    ConfigValidationError,
    HashShardedWriteConfig,
    ListMetricsCollector,
    MetricEvent,
    PythonRecordInput,
    PythonWriteOptions,
    ShardAssignmentError,
    ShardedReader,
    WriterManifestConfig,
    WriterOutputConfig,
    route_hash,
)
from shardyfusion.options import BufferingOptions, SharedMemoryOptions
from shardyfusion.sqlite_adapter import SqliteFactory
from shardyfusion.writer.python import write_cel_sharded, write_hash_sharded

INPUT = PythonRecordInput(key_fn=lambda r: r["id"], value_fn=lambda r: r["v"])


def records(n):
    return [{"id": i, "v": f"value-{i}".encode()} for i in range(n)]


def test_hash_round_trip(snap, local_root):
    recs = records(1000)
    cfg = HashShardedWriteConfig(num_dbs=8, s3_prefix=snap, output=WriterOutputConfig(local_root=local_root))
    res = write_hash_sharded(recs, cfg, INPUT)
    assert res.manifest_ref.startswith("file://") and res.manifest_ref.ref == str(res.manifest_ref)
    assert res.manifest_ref.run_id == res.run_id and len(res.run_id) == 32
    assert res.stats.rows_written == 1000 and res.stats.num_winners == len(res.winners) == 8
    assert [w.db_id for w in res.winners] == sorted(w.db_id for w in res.winners)
    for w in res.winners:
        assert w.db_url.endswith(f"db={w.db_id:05d}/attempt=00")
    with ShardedReader(snap, local_root) as reader:
        info = reader.snapshot_info()
        assert info.num_dbs == 8 and info.hash_algorithm == "xxh3_64" and info.sharding == "hash"
        assert info.row_count == 1000 and info.manifest_ref == res.manifest_ref and info.run_id == res.run_id
        for r in recs[::37]:
            assert reader.get(r["id"]) == r["v"]
            assert reader.route_key(r["id"]) == route_hash(r["id"], 8)
        got = reader.multi_get([5, 5, 999, 123456])
        assert got == {5: b"value-5", 999: b"value-999", 123456: None}
        details = reader.shard_details()
        assert [d.db_id for d in details] == list(range(8))
        for d in details:
            assert all(route_hash(k, 8) == d.db_id for k in (d.min_key, d.max_key))
        assert reader.shard_for_key(5).db_id == route_hash(5, 8)
    # the run record says succeeded
    runs = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(snap, "runs")) for f in fs]
    assert runs and "succeeded" in open(runs[0]).read()


def test_read_back_with_cli(snap, cli):
    cfg = HashShardedWriteConfig(num_dbs=4, s3_prefix=snap, key_encoding="utf8")
    inp = PythonRecordInput(key_fn=lambda r: r[0], value_fn=lambda r: r[1].encode())
    write_hash_sharded([("alpha", "A"), ("beta", "B"), ("gamma", "G")], cfg, inp)
    out = subprocess.run([cli, "--current-url", snap, "--output-format", "json", "--value-encoding", "utf8",
                          "get", "beta"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["value"] == "B"
    info = subprocess.run([cli, "--current-url", snap, "--output-format", "json", "info"], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["num_dbs"] == 4


def test_empty_input(snap):
    res = write_hash_sharded([], HashShardedWriteConfig(num_dbs=4, s3_prefix=snap), INPUT)
    assert res.winners == [] and res.stats.rows_written == 0
    with ShardedReader(snap) as r:
        assert r.get(1) is None and r.snapshot_info().num_dbs == 4


def test_duplicate_keys_last_wins_and_batches(snap):
    recs = [{"id": i % 10, "v": str(i).encode()} for i in range(100)]
    res = write_hash_sharded(recs, HashShardedWriteConfig(num_dbs=3, s3_prefix=snap, batch_size=7), INPUT)
    with ShardedReader(snap) as r:
        assert r.get(3) == b"93"


def test_max_keys_per_shard(snap):
    res = write_hash_sharded(records(95), HashShardedWriteConfig(max_keys_per_shard=10, s3_prefix=snap), INPUT)
    assert res.num_dbs == 10
    with pytest.raises(ConfigValidationError, match="Sized"):
        write_hash_sharded(iter(records(5)), HashShardedWriteConfig(max_keys_per_shard=10, s3_prefix=snap), INPUT)


def test_parallel_matches_single_process(tmp_path):
    recs = records(2000)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    ra = write_hash_sharded(recs, HashShardedWriteConfig(num_dbs=5, s3_prefix=a), INPUT)
    rb = write_hash_sharded(recs, HashShardedWriteConfig(num_dbs=5, s3_prefix=b), INPUT, PythonWriteOptions(parallel=True))
    assert [(w.db_id, w.row_count) for w in ra.winners] == [(w.db_id, w.row_count) for w in rb.winners]


def test_options_validation(snap):
    cfg = HashShardedWriteConfig(num_dbs=2, s3_prefix=snap)
    with pytest.raises(ConfigValidationError, match="options.max_queue_size must be > 0"):
        write_hash_sharded([], cfg, INPUT, PythonWriteOptions(max_queue_size=0))
    with pytest.raises(ConfigValidationError, match="options.shared_memory.max_total_bytes must be > 0 when set"):
        write_hash_sharded([], cfg, INPUT, PythonWriteOptions(shared_memory=SharedMemoryOptions(max_total_bytes=0)))
    with pytest.raises(ConfigValidationError, match="max_bytes_per_worker"):
        write_hash_sharded([], cfg, INPUT, PythonWriteOptions(shared_memory=SharedMemoryOptions(max_bytes_per_worker=-1)))
    with pytest.raises(ConfigValidationError, match="input.key_fn must be callable"):
        write_hash_sharded([], cfg, PythonRecordInput(key_fn=None, value_fn=lambda r: r))
    cfg.kv.profile_value_sizes_for_page_size = True
    with pytest.raises(ConfigValidationError, match="page_size"):
        write_hash_sharded([], cfg, INPUT)


def test_buffering_limit_spills_and_keeps_data(snap):
    opts = PythonWriteOptions(buffering=BufferingOptions(max_total_batched_bytes=64 * 1024))
    recs = [{"id": i, "v": os.urandom(200)} for i in range(3000)]
    write_hash_sharded(recs, HashShardedWriteConfig(num_dbs=2, s3_prefix=snap), INPUT, opts)
    with ShardedReader(snap) as r:
        assert all(r.get(x["id"]) == x["v"] for x in recs[::101])


def test_key_encoding_errors_use_catalogued_messages(snap):
    bad = PythonRecordInput(key_fn=lambda r: "not-an-int", value_fn=lambda r: b"")
    with pytest.raises(ConfigValidationError, match="u64be encoding expects int"):
        write_hash_sharded([1], HashShardedWriteConfig(num_dbs=2, s3_prefix=snap), bad)
    neg = PythonRecordInput(key_fn=lambda r: -5, value_fn=lambda r: b"")
    with pytest.raises(ConfigValidationError, match="u32be encoding requires"):
        write_hash_sharded([1], HashShardedWriteConfig(num_dbs=2, s3_prefix=snap, key_encoding="u32be"), neg)
    assert not os.path.exists(os.path.join(snap, "_CURRENT"))


def test_callback_errors_propagate_raw_and_publish_nothing(snap):
    def boom(r):
        if r == 500:
            raise RuntimeError("callback failed")
        return b"x"

    with pytest.raises(RuntimeError, match="callback failed"):
        write_hash_sharded(range(1000), HashShardedWriteConfig(num_dbs=2, s3_prefix=snap),
                           PythonRecordInput(key_fn=lambda r: r, value_fn=boom))
    assert not os.path.exists(os.path.join(snap, "_CURRENT"))


def test_metrics_order(snap):
    mc = ListMetricsCollector()
    write_hash_sharded(records(10), HashShardedWriteConfig(num_dbs=2, s3_prefix=snap, metrics_collector=mc), INPUT)
    names = [e for e, _ in mc.events]
    assert names[0] is MetricEvent.WRITE_STARTED and names[-1] is MetricEvent.WRITE_COMPLETED
    assert MetricEvent.SHARD_WRITES_COMPLETED in names and MetricEvent.MANIFEST_PUBLISHED in names
    assert mc.events[-1][1]["rows_written"] == 10 and "elapsed_ms" in mc.events[-1][1]


def test_custom_fields_sqlite_factory_and_run_id(snap):
    cfg = HashShardedWriteConfig(
        num_dbs=2, s3_prefix="file://" + snap, adapter_factory=SqliteFactory(page_size=8192),
        manifest=WriterManifestConfig(custom_manifest_fields={"team": "search"}),
        output=WriterOutputConfig(run_id="nightly-1", db_path_template="part={db_id:03d}"),
    )
    res = write_hash_sharded(records(50), cfg, INPUT)
    assert res.run_id == "nightly-1"
    assert all("/part=" in w.db_url for w in res.winners)
    with ShardedReader("file://" + snap) as r:
        assert r.get(7) == b"value-7"


def test_refresh_sees_a_new_snapshot(snap):
    cfg = HashShardedWriteConfig(num_dbs=2, s3_prefix=snap)
    write_hash_sharded(records(10), cfg, INPUT)
    reader = ShardedReader(snap)
    assert reader.refresh() is False
    write_hash_sharded([{"id": 1, "v": b"new"}], cfg, INPUT)
    assert reader.get(1) == b"value-1"
    assert reader.refresh() is True
    assert reader.get(1) == b"new" and reader.get(2) is None
    reader.close()
    reader.close()


# ---- CEL ----------------------------------------------------------------------------------------


def test_cel_direct(snap):
    cfg = CelShardedWriteConfig(cel_expr="key % 4", cel_columns={"key": "int"}, s3_prefix=snap)
    res = write_cel_sharded(records(100), cfg, INPUT)
    assert res.num_dbs == 4 and [w.row_count for w in res.winners] == [25, 25, 25, 25]
    with ShardedReader(snap) as r:
        info = r.snapshot_info()
        assert info.sharding == "cel"
        for i in (0, 1, 2, 3, 42, 99):
            assert r.route_key(i) == i % 4
            assert r.get(i) == f"value-{i}".encode()


def test_cel_constant_zero_and_empty(tmp_path):
    cfg = CelShardedWriteConfig(cel_expr="0", cel_columns={"key": "int"}, s3_prefix=str(tmp_path / "a"))
    assert write_cel_sharded(records(10), cfg, INPUT).num_dbs == 1
    cfg = CelShardedWriteConfig(cel_expr="key % 4", cel_columns={"key": "int"}, s3_prefix=str(tmp_path / "b"))
    assert write_cel_sharded([], cfg, INPUT).winners == []


def test_cel_shard_hash(snap):
    cfg = CelShardedWriteConfig(cel_expr="shard_hash(key) % 4u", cel_columns={"key": "int"}, s3_prefix=snap)
    write_cel_sharded(records(200), cfg, INPUT)
    with ShardedReader(snap) as r:
        assert all(r.get(i) == f"value-{i}".encode() for i in range(0, 200, 13))


def test_cel_categorical_with_context(snap):
    recs = [{"id": i, "region": ["eu", "us", "ap"][i % 3], "v": str(i).encode()} for i in range(60)]
    inp = PythonRecordInput(key_fn=lambda r: r["id"], value_fn=lambda r: r["v"], columns_fn=lambda r: {"region": r["region"]})
    cfg = CelShardedWriteConfig(cel_expr="region", cel_columns={"region": "string"}, routing_values=["ap", "eu", "us"],
                                s3_prefix=snap)
    res = write_cel_sharded(recs, cfg, inp)
    assert res.num_dbs == 3 and sum(w.row_count for w in res.winners) == 60
    with ShardedReader(snap) as r:
        assert r.route_key(None, {"region": "eu"}) == 1
        assert r.get(4, routing_context={"region": "us"}) == b"4"
        assert r.get(4, routing_context={"region": "eu"}) is None
        assert r.get(4, routing_context={"region": "mars"}) is None
        assert r.multi_get([0, 3], routing_context={"region": "eu"}) == {0: b"0", 3: b"3"}


def test_cel_inferred_routing_values(snap):
    recs = [{"id": i, "region": ["us", "eu"][i % 2], "v": b"x"} for i in range(10)]
    inp = PythonRecordInput(key_fn=lambda r: r["id"], value_fn=lambda r: r["v"], columns_fn=lambda r: {"region": r["region"]})
    cfg = CelShardedWriteConfig(cel_expr="region", cel_columns={"region": "string"},
                                infer_routing_values_from_data=True, s3_prefix=snap)
    res = write_cel_sharded(recs, cfg, inp)
    assert res.num_dbs == 2 and cfg.infer_routing_values_from_data  # the caller's config is untouched
    with ShardedReader(snap) as r:
        assert r.route_key(None, {"region": "eu"}) == 0 and r.route_key(None, {"region": "us"}) == 1
    with pytest.raises(ConfigValidationError, match="reiterable input"):
        write_cel_sharded(iter(recs), cfg, inp)
    with pytest.raises(ConfigValidationError, match="does not support inferred categorical"):
        write_cel_sharded(recs, cfg, inp, PythonWriteOptions(parallel=True))


def test_cel_parallel_direct_mode_rejected(snap):
    cfg = CelShardedWriteConfig(cel_expr="key % 4", cel_columns={"key": "int"}, s3_prefix=snap)
    with pytest.raises(ConfigValidationError, match="Parallel mode requires num_dbs"):
        write_cel_sharded(records(4), cfg, INPUT, PythonWriteOptions(parallel=True))


def test_cel_unknown_token_is_shard_assignment_error(snap):
    inp = PythonRecordInput(key_fn=lambda r: r, value_fn=lambda r: b"", columns_fn=lambda r: {"region": "mars"})
    cfg = CelShardedWriteConfig(cel_expr="region", cel_columns={"region": "string"}, routing_values=["eu"], s3_prefix=snap)
    with pytest.raises(ShardAssignmentError):
        write_cel_sharded([1], cfg, inp)


def test_cel_bad_expression_is_config_error(snap):
    cfg = CelShardedWriteConfig(cel_expr="key % 16u", cel_columns={"key": "int"}, s3_prefix=snap)
    with pytest.raises(ConfigValidationError, match="16"):
        write_cel_sharded(records(2), cfg, INPUT)


def test_cel_non_consecutive_direct_ids(snap):
    cfg = CelShardedWriteConfig(cel_expr="key * 2", cel_columns={"key": "int"}, s3_prefix=snap)
    with pytest.raises(ShardAssignmentError, match="non-consecutive"):
        write_cel_sharded(records(3), cfg, INPUT)


def test_cel_with_cli(snap, cli):
    cfg = CelShardedWriteConfig(cel_expr="key % 3", cel_columns={"key": "int"}, s3_prefix=snap)
    write_cel_sharded(records(30), cfg, INPUT)
    out = subprocess.run([cli, "--current-url", snap, "--output-format", "json", "route", "7"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["db_id"] == 1
