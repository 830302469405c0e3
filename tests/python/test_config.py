"""Config validation catalogue (writer spec §3, §3.7) and flat-vs-group conflicts."""

from __future__ import annotations

import re

import pytest

from shardyfusion import (
    BaseShardedWriteConfig,
    CelShardedWriteConfig,
    CelShardingConfig,
    ConfigValidationError,
    HashShardedWriteConfig,
    HashShardingConfig,
    KeyEncoding,
    KeyValueWriteConfig,
    KvWriteRateLimitConfig,
    RetryConfig,
    SingleDbWriteConfig,
    SlateDbFactory,
    VectorSpec,
    WriterLifecycleConfig,
    WriterObservabilityConfig,
    WriterOutputConfig,
    WriterRetryConfig,
    WriterStorageConfig,
)
from shardyfusion.sqlite_adapter import SqliteFactory

P = "s3://bucket/prefix"


def test_hash_config_defaults_and_aliases():
    c = HashShardedWriteConfig(num_dbs=8, s3_prefix=P)
    assert c.num_dbs == 8 and c.max_keys_per_shard is None
    assert c.s3_prefix == P and c.storage.s3_prefix == P
    assert c.key_encoding is KeyEncoding.U64BE
    assert c.batch_size == 50_000
    assert c.shard_id_col == "_shard_id"
    assert c.output.db_path_template == "db={db_id:05d}"
    assert c.output.shard_prefix == "shards" and c.output.run_registry_prefix == "runs"
    assert c.output.local_root.endswith("shardyfusion")
    assert c.manifest.custom_manifest_fields == {}
    assert c.adapter_factory is None and c.shard_retry is None


def test_seed_examples_are_valid():
    HashShardedWriteConfig(num_dbs=16, s3_prefix="s3://bucket/snapshots/users", adapter_factory=SqliteFactory())
    c = CelShardedWriteConfig(cel_expr="key % 16u", cel_columns={"key": "int"}, s3_prefix="s3://bucket/p")
    assert c.cel_expr == "key % 16u" and c.cel_columns == {"key": "int"} and c.routing_values is None


@pytest.mark.parametrize("prefix", ["/tmp/snap", "file:///tmp/snap", "relative/dir", "s3://b/p/q"])
def test_s3_prefix_accepts_local_paths_and_urls(prefix):
    assert HashShardedWriteConfig(num_dbs=1, s3_prefix=prefix).s3_prefix == prefix


@pytest.mark.parametrize(
    "prefix,fragment",
    [
        ("", "s3_prefix must be parseable as s3://bucket/prefix"),
        ("s3://bucket", "s3_prefix must include a non-empty key prefix"),
        ("s3://bucket/", "s3_prefix must include a non-empty key prefix"),
        ("gs://bucket/p", "s3_prefix must be parseable as s3://bucket/prefix"),
        ("s3:///p", "s3_prefix must be parseable as s3://bucket/prefix"),
    ],
)
def test_s3_prefix_rejections(prefix, fragment):
    with pytest.raises(ConfigValidationError, match=re.escape(fragment)):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=prefix)


def test_missing_s3_prefix_is_an_error():
    with pytest.raises(ConfigValidationError, match="s3_prefix"):
        HashShardedWriteConfig(num_dbs=1)


def test_config_validation_error_is_value_error():
    with pytest.raises(ValueError):
        HashShardedWriteConfig(num_dbs=0, s3_prefix=P)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"num_dbs": 0}, "num_dbs must be > 0"),
        ({"num_dbs": -3}, "num_dbs must be > 0"),
        ({}, "num_dbs must be > 0"),
        ({"max_keys_per_shard": 0}, "max_keys_per_shard must be > 0"),
        ({"num_dbs": 4, "max_keys_per_shard": 10}, r"sharding\.num_dbs must be None when sharding\.max_keys_per_shard"),
    ],
)
def test_hash_sharding_messages(kwargs, fragment):
    with pytest.raises(ConfigValidationError, match=fragment):
        HashShardedWriteConfig(s3_prefix=P, **kwargs)


def test_hash_sharding_group():
    c = HashShardedWriteConfig(sharding=HashShardingConfig(max_keys_per_shard=100), s3_prefix=P)
    assert c.num_dbs is None and c.max_keys_per_shard == 100
    with pytest.raises(ConfigValidationError, match="cannot be combined"):
        HashShardedWriteConfig(sharding=HashShardingConfig(num_dbs=2), num_dbs=2, s3_prefix=P)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"cel_columns": {"key": "int"}}, "CEL strategy requires cel_expr"),
        ({"cel_expr": "key % 4"}, "CEL strategy requires cel_columns"),
        (
            {"cel_expr": "region", "cel_columns": {"region": "string"}, "routing_values": ["a"],
             "infer_routing_values_from_data": True},
            "infer_routing_values_from_data cannot be combined with routing_values",
        ),
        ({"cel_expr": "r", "cel_columns": {"r": "string"}, "routing_values": ["a", "b", "a"]},
         "Routing values must be unique; duplicates="),
        ({"cel_expr": "r", "cel_columns": {"r": "string"}, "routing_values": ["a", 1]}, "same type"),
        ({"cel_expr": "r", "cel_columns": {"r": "string"}, "routing_values": [True]}, "Routing values"),
        ({"cel_expr": "r", "cel_columns": {"r": "string"}, "routing_values": [None]}, "Routing values"),
        ({"cel_expr": "r", "cel_columns": {"r": "double"}, "routing_values": [1.5]}, "Routing values"),
    ],
)
def test_cel_sharding_messages(kwargs, fragment):
    with pytest.raises(ConfigValidationError, match=re.escape(fragment)):
        CelShardedWriteConfig(s3_prefix=P, **kwargs)


def test_cel_sharding_group_conflict():
    g = CelShardingConfig(cel_expr="key % 4", cel_columns={"key": "int"})
    assert CelShardedWriteConfig(sharding=g, s3_prefix=P).sharding is g
    with pytest.raises(ConfigValidationError, match="cannot be combined"):
        CelShardedWriteConfig(sharding=g, cel_expr="key % 2", s3_prefix=P)


@pytest.mark.parametrize(
    "group,obj,flat",
    [
        ("storage", WriterStorageConfig(s3_prefix=P), {"s3_prefix": P}),
        ("storage", WriterStorageConfig(s3_prefix=P), {"s3_connection_options": {}}),
        ("kv", KeyValueWriteConfig(), {"key_encoding": "utf8"}),
        ("kv", KeyValueWriteConfig(), {"batch_size": 10}),
        ("kv", KeyValueWriteConfig(), {"adapter_factory": SqliteFactory()}),
        ("retry", WriterRetryConfig(), {"shard_retry": RetryConfig()}),
        ("rate_limits", KvWriteRateLimitConfig(), {"max_writes_per_second": 10}),
        ("rate_limits", KvWriteRateLimitConfig(), {"max_write_bytes_per_second": 10}),
        ("observability", WriterObservabilityConfig(), {"metrics_collector": None}),
        ("lifecycle", WriterLifecycleConfig(), {"run_registry": None}),
        ("vector", VectorSpec(dim=4), {"vector_spec": VectorSpec(dim=4)}),
    ],
)
def test_group_and_flat_keyword_conflict(group, obj, flat):
    kwargs = {"num_dbs": 2, group: obj, **flat}
    if group != "storage":
        kwargs["s3_prefix"] = P
    with pytest.raises(ConfigValidationError, match=f"{group} cannot be combined with"):
        HashShardedWriteConfig(**kwargs)


def test_groups_used_by_reference():
    kv = KeyValueWriteConfig(key_encoding="utf8", batch_size=7)
    c = HashShardedWriteConfig(num_dbs=2, s3_prefix=P, kv=kv)
    assert c.kv is kv and c.key_encoding is KeyEncoding.UTF8 and c.batch_size == 7


@pytest.mark.parametrize("bad", ["", 0, "U64BE", "latin1", None])
def test_unsupported_key_encoding(bad):
    with pytest.raises(ConfigValidationError, match="Unsupported key encoding"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, key_encoding=bad)


def test_key_encoding_coerced_and_alias_setter_revalidates():
    c = HashShardedWriteConfig(num_dbs=1, s3_prefix=P, key_encoding="raw")
    assert c.key_encoding is KeyEncoding.RAW
    c.key_encoding = "u32be"
    assert c.kv.key_encoding is KeyEncoding.U32BE
    with pytest.raises(ConfigValidationError, match="Unsupported key encoding"):
        c.key_encoding = "nope"
    with pytest.raises(ConfigValidationError, match="kv.batch_size must be > 0"):
        c.batch_size = 0
    assert c.batch_size == 50_000
    with pytest.raises(ConfigValidationError, match="s3_prefix"):
        c.s3_prefix = "s3://bucket"


def test_batch_size_and_rate_limits():
    with pytest.raises(ConfigValidationError, match="kv.batch_size must be > 0"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, batch_size=0)
    with pytest.raises(ConfigValidationError, match="rate_limits.max_writes_per_second must be > 0 when set"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, max_writes_per_second=0)
    with pytest.raises(ConfigValidationError, match="rate_limits.max_write_bytes_per_second must be > 0 when set"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, max_write_bytes_per_second=-1)


@pytest.mark.parametrize("field", ["shard_prefix", "run_registry_prefix", "run_id"])
@pytest.mark.parametrize(
    "value,fragment",
    [
        ("", "must be non-empty"),
        ("a..b", "must not contain '..'"),
        ("a/b", "single path segment"),
        ("a\\b", "single path segment"),
        ("a b", "unsupported characters"),
        ("é", "unsupported characters"),
    ],
)
def test_safe_segments(field, value, fragment):
    with pytest.raises(ConfigValidationError, match=re.escape(f"output.{field}")) as ei:
        WriterOutputConfig(**{field: value})
    assert fragment in str(ei.value)


def test_db_path_template_rules():
    with pytest.raises(ConfigValidationError, match=re.escape("output.db_path_template must support format(db_id=...)")):
        WriterOutputConfig(db_path_template="db={shard}")
    with pytest.raises(ConfigValidationError, match="must contain"):
        WriterOutputConfig(db_path_template="static")
    WriterOutputConfig(db_path_template="part-{db_id}")


def test_shard_id_col():
    assert HashShardedWriteConfig(num_dbs=1, s3_prefix=P, shard_id_col="_sid").shard_id_col == "_sid"
    with pytest.raises(ConfigValidationError, match="shard_id_col must be a non-empty string"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, shard_id_col="")
    with pytest.raises(ConfigValidationError, match="shard_id_col must be a non-empty string"):
        CelShardedWriteConfig(cel_expr="key", cel_columns={"key": "int"}, s3_prefix=P, shard_id_col="")


def test_vector_spec_validation():
    with pytest.raises(ConfigValidationError, match="vector.dim must be > 0"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, vector_spec=VectorSpec(dim=0))
    with pytest.raises(ConfigValidationError, match="vector_spec.metric"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, vector_spec=VectorSpec(dim=3, metric="manhattan"))


def test_type_checks_of_groups():
    with pytest.raises(ConfigValidationError, match="output must be WriterOutputConfig"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, output={"run_id": "x"})


def test_custom_manifest_fields_must_be_dict():
    from shardyfusion import WriterManifestConfig

    with pytest.raises(ConfigValidationError, match="manifest.custom_manifest_fields must be a dict"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, manifest=WriterManifestConfig(custom_manifest_fields=[1]))


def test_slatedb_factory_is_refused_with_a_hint():
    with pytest.raises(ConfigValidationError, match="SlateDB backend is not available in this build; use adapter_factory=SqliteFactory()"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, adapter_factory=SlateDbFactory())


def test_sqlite_factory_page_sizes():
    for ps in (4096, 8192, 16384, 32768, 65536, "auto"):
        assert SqliteFactory(page_size=ps).page_size == ps
    with pytest.raises(ConfigValidationError):
        SqliteFactory(page_size=1000)


def test_profile_page_size_mutual_exclusion():
    with pytest.raises(ConfigValidationError, match="page"):
        HashShardedWriteConfig(
            num_dbs=1, s3_prefix=P,
            kv=KeyValueWriteConfig(adapter_factory=SqliteFactory(page_size="auto"), profile_value_sizes_for_page_size=True),
        )
    HashShardedWriteConfig(
        num_dbs=1, s3_prefix=P,
        kv=KeyValueWriteConfig(adapter_factory=SqliteFactory(), profile_value_sizes_for_page_size=True),
    )


def test_base_and_single_db_configs():
    b = BaseShardedWriteConfig(s3_prefix=P)
    assert b.s3_prefix == P
    s = SingleDbWriteConfig(s3_prefix=P)
    assert s.num_dbs == 1


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword"):
        HashShardedWriteConfig(num_dbs=1, s3_prefix=P, nonsense=1)
