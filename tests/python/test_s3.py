"""The Python writer and reader against a real S3 server (moto from tests/s3/servers.sh; skipped
unless SHARDY_TEST_S3_ENDPOINT is set)."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from shardyfusion import (
    CelShardedWriteConfig,
    HashShardedWriteConfig,
    PythonRecordInput,
    PythonWriteOptions,
    ShardedReader,
    StaticCredentialProvider,
    WriterOutputConfig,
)
from shardyfusion.errors import ShardyfusionError
from shardyfusion.type_defs import RetryConfig
from shardyfusion.writer.python import write_cel_sharded, write_hash_sharded

INPUT = PythonRecordInput(key_fn=lambda r: r, value_fn=lambda r: f"v{r}".encode())


def creds(s3):
    return StaticCredentialProvider(access_key_id=s3["access_key"], secret_access_key=s3["secret_key"])


def test_hash_on_s3(s3, tmp_path):
    cfg = HashShardedWriteConfig(
        num_dbs=4, s3_prefix=s3["prefix"], s3_connection_options=s3["options"], credential_provider=creds(s3),
        output=WriterOutputConfig(local_root=str(tmp_path / "stage")),
    )
    res = write_hash_sharded(range(500), cfg, INPUT)
    assert res.manifest_ref.startswith(s3["prefix"] + "/manifests/")
    assert all(w.db_url.startswith(s3["prefix"] + "/shards/") for w in res.winners)
    with ShardedReader(s3["prefix"], str(tmp_path / "cache"), s3_connection_options=s3["options"],
                       credential_provider=creds(s3)) as r:
        assert r.get(123) == b"v123" and r.get(10_000) is None
        assert r.multi_get([1, 2]) == {1: b"v1", 2: b"v2"}
        assert r.snapshot_info().row_count == 500
        write_hash_sharded([7], cfg, PythonRecordInput(key_fn=lambda r: r, value_fn=lambda r: b"again"))
        assert r.refresh() is True and r.get(7) == b"again"


def test_cel_on_s3(s3, tmp_path):
    cfg = CelShardedWriteConfig(cel_expr="key % 3", cel_columns={"key": "int"}, s3_prefix=s3["prefix"],
                                s3_connection_options=s3["options"], credential_provider=creds(s3))
    res = write_cel_sharded(range(30), cfg, INPUT)
    assert res.num_dbs == 3
    with ShardedReader(s3["prefix"], str(tmp_path / "cache"), s3_connection_options=s3["options"],
                       credential_provider=creds(s3)) as r:
        assert r.route_key(5) == 2 and r.get(5) == b"v5"


def test_bad_s3_option_is_a_config_error(s3):
    from shardyfusion import ConfigValidationError

    cfg = HashShardedWriteConfig(num_dbs=1, s3_prefix=s3["prefix"], s3_connection_options={"bogus_option": "1"})
    with pytest.raises(ConfigValidationError, match="bogus_option"):
        write_hash_sharded([1], cfg, INPUT)


def test_credential_provider_signs_requests(s3s, tmp_path, monkeypatch):
    from shardyfusion import ShardyfusionError

    for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(v, raising=False)
    good = StaticCredentialProvider(access_key_id=s3s["key"], secret_access_key=s3s["secret"])
    cfg = HashShardedWriteConfig(num_dbs=2, s3_prefix=s3s["prefix"], s3_connection_options=s3s["options"],
                                 credential_provider=good)
    write_hash_sharded(range(20), cfg, INPUT)
    # s3s-fs cannot probe a "directory" prefix: name the pointer object
    with ShardedReader(s3s["prefix"] + "/_CURRENT", str(tmp_path / "c"), s3_connection_options=s3s["options"],
                       credential_provider=good) as r:
        assert r.get(3) == b"v3"
    wrong = StaticCredentialProvider(access_key_id=s3s["key"], secret_access_key="not-the-secret-xyz")
    cfg.credential_provider = wrong
    with pytest.raises(ShardyfusionError) as ei:
        write_hash_sharded(range(5), cfg, INPUT)
    assert "not-the-secret-xyz" not in str(ei.value)


def _retry_cfg(s3, proxy, tmp_path, retries):
    opts = dict(s3["options"], endpoint_url=proxy, max_attempts=1)  # no request-level retries
    return HashShardedWriteConfig(
        num_dbs=4, s3_prefix=s3["prefix"], s3_connection_options=opts, credential_provider=creds(s3),
        output=WriterOutputConfig(local_root=str(tmp_path / "stage")),
        shard_retry=RetryConfig(max_retries=retries, initial_backoff=timedelta(seconds=0.05)),
    )


def test_parallel_shard_retry_rewrites_a_failed_shard(s3, fault_proxy, tmp_path):
    # The first two uploads of shard 2 get 500: with max_attempts=1 each fails its shard attempt;
    # PYR (parallel + shard_retry) writes the shard again as attempts 1 and 2; attempt 2 wins and the
    # failed attempts leave nothing behind.
    proxy = fault_proxy("--schedule", "500,500", "--only", "PUT", "--path-contains", "00002/attempt")
    res = write_hash_sharded(range(400), _retry_cfg(s3, proxy, tmp_path, 2), INPUT, PythonWriteOptions(parallel=True))
    att = {w.db_id: w.attempt for w in res.winners}
    assert att == {0: 0, 1: 0, 2: 2, 3: 0}, (att, [w.db_url for w in res.winners])
    stats = (tmp_path / "stats0").read_text()
    assert "500 2" in stats, stats
    with ShardedReader(s3["prefix"], str(tmp_path / "cache"), s3_connection_options=s3["options"],
                       credential_provider=creds(s3)) as r:
        assert r.multi_get(list(range(400))) == {i: f"v{i}".encode() for i in range(400)}


def test_shard_retry_exhausted_or_ignored_fails_the_build(s3, fault_proxy, tmp_path):
    # retries exhausted (1 retry, 2 failures) → the build fails naming the shard, nothing published;
    # PY1 (parallel=False) ignores shard_retry (spec), so one failure is enough there
    proxy = fault_proxy("--schedule", "500,500", "--only", "PUT", "--path-contains", "00002/attempt")
    with pytest.raises(ShardyfusionError, match=r"db_id=2.*after 2 attempts|after 2 attempts.*db_id=2"):
        write_hash_sharded(range(400), _retry_cfg(s3, proxy, tmp_path, 1), INPUT, PythonWriteOptions(parallel=True))
    proxy = fault_proxy("--schedule", "500", "--only", "PUT", "--path-contains", "00002/attempt")
    with pytest.raises(ShardyfusionError, match="500"):
        write_hash_sharded(range(400), _retry_cfg(s3, proxy, tmp_path, 3), INPUT, PythonWriteOptions(parallel=False))
    with pytest.raises(urllib.error.HTTPError) as ei:  # nothing was published
        urllib.request.urlopen(f"{s3['endpoint']}/{s3['bucket']}/snap/_CURRENT", timeout=10)
    assert ei.value.code == 404
