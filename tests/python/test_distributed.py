"""_native distributed-build API: Arrow routing kernels, AttemptWriter, Run, CelRouter (skipped
when libshardy was built without it)."""

from __future__ import annotations

import json
import struct

import pytest

from shardyfusion import ShardedReader, _native
from shardyfusion.serde import encode_json_cols

pa = pytest.importorskip("pyarrow")
pytestmark = pytest.mark.skipif(not getattr(_native, "HAVE_DISTRIBUTED", 0), reason="no distributed API in libshardy")


def ids(buf):
    return list(struct.unpack(f"={len(buf) // 4}i", buf))


def test_route_hash_arrow_matches_scalar():
    keys = [0, 1, -5, 2**40, 2**63 - 1]
    batch = pa.record_batch({"k": pa.array(keys, pa.int64()), "s": pa.array(["a", "é", "", "xyz", "k"])})
    assert ids(_native.route_hash_arrow(batch, "k", 7)) == [_native.route_hash(k, 7) for k in keys]
    assert ids(_native.route_hash_arrow(batch, "s", 16)) == [_native.route_hash(s, 16) for s in batch.column("s").to_pylist()]
    sliced = batch.slice(2, 2)
    assert ids(_native.route_hash_arrow(sliced, "k", 7)) == [_native.route_hash(k, 7) for k in keys[2:4]]
    with pytest.raises(_native.NativeError) as ei:
        _native.route_hash_arrow(batch, "missing", 4)
    assert ei.value.status_name == "SHARDY_EINVAL"
    with pytest.raises(TypeError, match="__arrow_c_array__"):
        _native.route_hash_arrow(object(), "k", 4)


def test_cel_router():
    r = _native.CelRouter({"cel_expr": "key % 4", "cel_columns": ["key:int"]})
    batch = pa.record_batch({"id": pa.array(list(range(10)), pa.int64())})
    assert ids(r.route_arrow(batch, "id")) == [i % 4 for i in range(10)]
    assert r.route({"key": 6}) == 2
    r.close()
    with pytest.raises(_native.NativeError):
        _native.CelRouter({"cel_expr": "key % 16u", "cel_columns": ["key:int"]})


def test_attempts_run_publish_read(tmp_path):
    prefix = str(tmp_path / "snap")
    opts = {"prefix": prefix, "num_dbs": 2, "key_col": "id", "writer_type": "test"}
    run = _native.Run(opts)
    run_id = run.run_id
    n = 50
    batch = pa.record_batch({
        "id": pa.array(list(range(n)), pa.int64()),
        "name": pa.array([f"n{i}é" for i in range(n)]),
        "score": pa.array([i / 3 for i in range(n)], pa.float64()),
        "blob": pa.array([f"b{i}".encode() for i in range(n)], pa.binary()),
    })
    shard = ids(_native.route_hash_arrow(batch, "id", 2))
    results = []
    for db in range(2):
        rows = pa.array([i for i in range(n) if shard[i] == db], pa.int64())
        part = batch.take(rows)
        w = _native.AttemptWriter({**opts, "run_id": run_id}, db, 0, stage_id=1, task_attempt_id=db)
        if db == 0:
            w.add_arrow(part, "id", "json_cols", ["name", "score"], None)
        else:
            w.add_arrow(part, "id", "binary_col", ["blob"])
        res = w.finish()
        w.close()
        assert res["db_id"] == db and res["row_count"] == len(rows)
        results.append(res)
    out = run.publish(results)
    run.close()
    assert out["run_id"] == run_id and len(out["winners"]) == 2
    with ShardedReader(prefix) as r:
        for i in range(n):
            v = r.get(i)
            if shard[i] == 0:
                row = {"name": f"n{i}é", "score": i / 3}
                assert v == encode_json_cols(row, ["name", "score"])
                assert json.loads(v) == row
            else:
                assert v == f"b{i}".encode()


def test_run_fail_and_coverage(tmp_path):
    prefix = str(tmp_path / "snap")
    run = _native.Run({"prefix": prefix, "num_dbs": 1})
    with pytest.raises(_native.NativeError) as ei:
        run.publish([{"db_id": 5, "db_url": None, "attempt": 0, "row_count": 0, "db_bytes": 0, "min_key": None,
                      "max_key": None, "checkpoint_id": None,
                      "writer_info": {"stage_id": None, "task_attempt_id": None, "attempt": 0, "duration_ms": 0},
                      "all_attempt_urls": []}])
    assert ei.value.status_name == "SHARDY_EROUTE" and "coverage" in str(ei.value).lower()
    run.close()
    run2 = _native.Run({"prefix": prefix, "num_dbs": 1})
    run2.fail("ShardWriteError", "gave up")
    run2.close()
