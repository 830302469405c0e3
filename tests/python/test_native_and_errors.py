"""_native API and the mapping of C failures to the spec's error classes (writer spec §7,
reader spec §2.13)."""

from __future__ import annotations

import os
import threading

import pytest

from shardyfusion import (
    ConfigValidationError,
    ManifestParseError,
    PublishCurrentError,
    PublishManifestError,
    ReaderStateError,
    ShardAssignmentError,
    ShardCoverageError,
    ShardedReader,
    ShardyfusionError,
    errors,
)
from shardyfusion import _native
from shardyfusion._engine import raise_native


def test_route_hash_contract():
    assert _native.route_hash(0, 1) == 0
    for key in (0, 1, -1, 2**63 - 1, -(2**63), "abc", "", b"\x00\xff", "é"):
        for n in (1, 2, 3, 7, 16, 128):
            db = _native.route_hash(key, n)
            assert 0 <= db < n and db == _native.route_hash(key, n)
    assert _native.route_hash("abc", 1024) == _native.route_hash(b"abc", 1024)  # str = its UTF-8 bytes
    with pytest.raises(ValueError, match="out of range"):
        _native.route_hash(2**63, 4)
    with pytest.raises(ValueError, match="out of range"):
        _native.route_hash(-(2**63) - 1, 4)
    with pytest.raises(TypeError, match="Unsupported key type for hashing: float"):
        _native.route_hash(1.5, 4)
    with pytest.raises(ValueError):
        _native.route_hash(1, 0)


def test_native_error_attributes(tmp_path):
    with pytest.raises(_native.NativeError) as ei:
        _native.Builder({"prefix": str(tmp_path), "num_dbs": 0})
    e = ei.value
    assert e.status == 100 and e.status_name == "SHARDY_EINVAL" and "num_dbs" in str(e)


def test_unknown_and_bad_options(tmp_path):
    with pytest.raises(ValueError, match="unknown build option: nope"):
        _native.Builder({"prefix": str(tmp_path), "nope": 1})
    with pytest.raises(ValueError, match="unknown reader option: nope"):
        _native.Reader({"current_url": str(tmp_path), "nope": 1})
    with pytest.raises(TypeError, match="num_dbs"):
        _native.Builder({"prefix": str(tmp_path), "num_dbs": "4"})
    with pytest.raises(ValueError, match="Unsupported key encoding"):
        _native.Builder({"prefix": str(tmp_path), "num_dbs": 1, "key_encoding": "x"})


def test_builder_and_reader_natively(tmp_path):
    p = str(tmp_path / "s")
    with _native.Builder({"prefix": p, "num_dbs": 3, "key_encoding": "utf8", "threads": 2,
                          "custom_json": '{"a": 1}', "s3_options": None, "run_id": "r1"}) as b:
        b.add("k1", b"v1")
        b.add(b"k2", bytearray(b"v2"))
        b.add_many(["k3", "k4"], [b"v3", memoryview(b"v4")])
        assert b.rows() == 4
        res = b.finish()
    assert res["run_id"] == "r1" and res["num_dbs"] == 3
    with pytest.raises(_native.NativeError) as ei:
        b.add("x", b"y")
    assert ei.value.status_name == "SHARDY_ECLOSED"
    r = _native.Reader({"current_url": p})
    assert r.get("k1") == b"v1" and r.get(b"k2") == b"v2" and r.get("zz") is None
    assert r.multi_get(["k3", "k4", "nope"]) == [b"v3", b"v4", None]
    assert r.info()["key_encoding"] == "utf8"
    assert len(r.shards()) == 3
    big = os.urandom(100_000)
    with _native.Builder({"prefix": p, "num_dbs": 1, "key_encoding": "utf8"}) as b:
        b.add("big", big)
        b.finish()
    assert r.refresh() is True
    assert r.get("big") == big
    r.close()
    assert r.closed
    with pytest.raises(_native.NativeError):
        r.get("big")


def test_reader_threads(tmp_path):
    p = str(tmp_path / "s")
    with _native.Builder({"prefix": p, "num_dbs": 4}) as b:
        b.add_many(list(range(5000)), [str(i).encode() for i in range(5000)])
        b.finish()
    r = ShardedReader(p)
    errs = []

    def work(off):
        try:
            for i in range(off, 5000, 7):
                assert r.get(i) == str(i).encode()
        except Exception as e:  # pragma: no cover
            errs.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(7)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errs
    r.close()


def test_builder_close_without_finish_publishes_nothing(tmp_path):
    p = str(tmp_path / "s")
    b = _native.Builder({"prefix": p, "num_dbs": 2})
    b.add(1, b"x")
    b.close()
    assert not os.path.exists(os.path.join(p, "_CURRENT"))


def _native_error(status_name, message):
    e = _native.NativeError(message)
    e.status = {"SHARDY_EINVAL": 100, "SHARDY_EROUTE": 500, "SHARDY_ESTORE": 300,
                "SHARDY_EFORMAT": 400, "SHARDY_ENOTFOUND": 201, "SHARDY_ETYPE": 104,
                "SHARDY_ECLOSED": 102, "SHARDY_ETIMEOUT": 302}[status_name]
    e.status_name = status_name
    return e


@pytest.mark.parametrize(
    "status,message,context,cls",
    [
        ("SHARDY_EINVAL", "bad", "open", ConfigValidationError),
        ("SHARDY_ETYPE", "u64be key encoding requires integer keys", "add", ConfigValidationError),
        ("SHARDY_EROUTE", "unknown token", "add", ShardAssignmentError),
        ("SHARDY_EROUTE", "Shard coverage mismatch; extra=[9]", "publish", ShardCoverageError),
        ("SHARDY_EROUTE", "ids are non-consecutive", "finish", ShardAssignmentError),
        ("SHARDY_ESTORE", "manifest publish failed: 503", "finish", PublishManifestError),
        ("SHARDY_ESTORE", "disk full", "finish", errors.ShardWriteError),
        ("SHARDY_ETIMEOUT", "slow", "finish", errors.S3TransientError),
        ("SHARDY_ENOTFOUND", "CURRENT pointer not found: file:///x/_CURRENT", "read", ReaderStateError),
        ("SHARDY_ECLOSED", "closed", "read", ReaderStateError),
        ("SHARDY_EFORMAT", "manifest: bad", "read", ManifestParseError),
        ("SHARDY_EFORMAT", "No valid manifest found after fallback", "read", ReaderStateError),
        ("SHARDY_ESTORE", "GET failed", "read", errors.DbAdapterError),
    ],
)
def test_raise_native_mapping(status, message, context, cls):
    err = _native_error(status, message)
    with pytest.raises(cls) as ei:
        raise_native(err, context)
    assert str(ei.value) == message and ei.value.__cause__ is err
    assert ei.value.status_name == status and isinstance(ei.value, ShardyfusionError)


def test_publish_current_error_carries_manifest_ref():
    ref = "s3://b/p/manifests/2026-01-01T00:00:00.000000Z_run_id=abc/manifest"
    err = _native_error("SHARDY_ESTORE", f"manifest {ref} was published but _CURRENT was not updated: 503")
    with pytest.raises(PublishCurrentError) as ei:
        raise_native(err, "finish")
    assert ei.value.manifest_ref == ref
    assert isinstance(ei.value, PublishManifestError) and ei.value.retryable


def test_error_hierarchy():
    assert issubclass(errors.ConfigValidationError, ValueError)
    assert not issubclass(errors.UnknownRoutingTokenError, ShardyfusionError)
    assert errors.ShardWriteError.retryable and not errors.ShardCoverageError.retryable


def test_reader_errors(tmp_path):
    with pytest.raises(ReaderStateError, match="CURRENT"):
        ShardedReader(str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="max_workers must be a positive integer"):
        ShardedReader(str(tmp_path), max_workers=0)
    p = str(tmp_path / "s")
    with _native.Builder({"prefix": p, "num_dbs": 1}) as b:
        b.add(1, b"x")
        b.finish()
    r = ShardedReader(p)
    r.close()
    for call in (lambda: r.get(1), lambda: r.multi_get([1]), r.refresh):
        with pytest.raises(ReaderStateError, match="Reader is closed"):
            call()
    assert r.health()["status"] == "unhealthy"
    # a str key on a u64be snapshot is a key-type error
    with ShardedReader(p) as r2:
        with pytest.raises(ConfigValidationError):
            r2.get("abc")


def test_corrupt_manifest_falls_back(tmp_path):
    p = str(tmp_path / "s")
    for v in (b"old", b"new"):
        with _native.Builder({"prefix": p, "num_dbs": 1}) as b:
            b.add(1, v)
            b.finish()
    with ShardedReader(p) as r:
        ref = r.snapshot_info().manifest_ref
    path = ref[len("file://"):]
    with open(path, "wb") as f:
        f.write(b"garbage")
    with ShardedReader(p) as r:
        assert r.get(1) == b"old"
    with pytest.raises(ManifestParseError):
        ShardedReader(p, max_fallback_attempts=0)
