"""Writer configuration objects (writer spec §3).

Constructing ``HashShardedWriteConfig``, ``CelShardedWriteConfig``, ``SingleDbWriteConfig`` or
``BaseShardedWriteConfig`` validates everything and raises ``ConfigValidationError`` on the first
problem. Each nested group can be given as a group object or through the flat (legacy) keywords
of §3.6, not both. Groups passed in are used by reference.

Decisions of this implementation (DESIGN.md §3): ``s3_prefix`` may also be a local path or a
``file://`` URL (the embedded default store); ``output.run_id`` must be a safe path segment;
``output.db_path_template`` must contain ``{db_id}`` or ``{db_id:0Nd}``; the default adapter is
SQLite (SlateDB is not built yet, naming a SlateDB factory is a ConfigValidationError).
"""

from __future__ import annotations

import os
import re
import string
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union
from urllib.parse import urlparse

from .errors import ConfigValidationError
from .serde import KeyEncoding
from .slatedb_adapter import SLATEDB_UNAVAILABLE, SlateDbFactory
from .type_defs import RetryConfig

__all__ = [
    "DB_ID_COL",
    "WriterStorageConfig",
    "WriterOutputConfig",
    "WriterManifestConfig",
    "KeyValueWriteConfig",
    "WriterRetryConfig",
    "KvWriteRateLimitConfig",
    "WriterObservabilityConfig",
    "WriterLifecycleConfig",
    "VectorSpec",
    "HashShardingConfig",
    "CelShardingConfig",
    "BaseShardedWriteConfig",
    "HashShardedWriteConfig",
    "CelShardedWriteConfig",
    "SingleDbWriteConfig",
]

DB_ID_COL = "_shard_id"
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_CEL_TYPES = ("int", "string", "bytes", "double", "bool", "uint")


def _default_local_root() -> str:
    return os.path.join(tempfile.gettempdir(), "shardyfusion")


def check_safe_segment(name: str, value: Any, max_len: Optional[int] = None) -> None:
    """Single safe path segment rule (§3.3); the message starts with the field name."""
    if not isinstance(value, str) or not value:
        raise ConfigValidationError(f"{name} must be non-empty")
    if ".." in value:
        raise ConfigValidationError(f"{name} must not contain '..'")
    if "/" in value or "\\" in value:
        raise ConfigValidationError(f"{name} must be a single path segment")
    if not _SAFE_SEGMENT.match(value):
        raise ConfigValidationError(f"{name} contains unsupported characters; allowed: [A-Za-z0-9._-]")
    if max_len is not None and len(value) > max_len:
        raise ConfigValidationError(f"{name} must be at most {max_len} characters")


def check_s3_prefix(value: Any) -> None:
    """s3://bucket/prefix, or (this implementation) a local path or file:// URL."""
    if not isinstance(value, str) or not value:
        raise ConfigValidationError(
            "s3_prefix must be parseable as s3://bucket/prefix (or a local path / file:// URL)"
        )
    if "://" not in value:
        return  # a local path (the embedded file:// store)
    parsed = urlparse(value)
    if parsed.scheme == "file":
        if not parsed.path or parsed.path == "/":
            raise ConfigValidationError("s3_prefix file:// URL must name a directory, e.g. file:///data/snap")
        return
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigValidationError(
            "s3_prefix must be parseable as s3://bucket/prefix (or a local path / file:// URL)"
        )
    if not parsed.path or parsed.path.strip("/") == "":
        raise ConfigValidationError("s3_prefix must include a non-empty key prefix, e.g. s3://bucket/prefix")


# ---- nested groups ----------------------------------------------------------------------------


@dataclass
class WriterStorageConfig:
    """Where the snapshot lives and how to reach it (validated at construction)."""

    s3_prefix: str = ""
    credential_provider: Optional[Any] = None
    s3_connection_options: Optional[Mapping[str, Any]] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        check_s3_prefix(self.s3_prefix)
        if self.s3_connection_options is not None and not isinstance(self.s3_connection_options, Mapping):
            raise ConfigValidationError("storage.s3_connection_options must be a dict")
        if self.credential_provider is not None and not callable(getattr(self.credential_provider, "resolve", None)):
            raise ConfigValidationError("storage.credential_provider must have a resolve() method")


@dataclass
class WriterOutputConfig:
    """Run id and object layout under the prefix (validated at construction)."""

    run_id: Optional[str] = None
    db_path_template: str = "db={db_id:05d}"
    shard_prefix: str = "shards"
    run_registry_prefix: str = "runs"
    local_root: str = field(default_factory=_default_local_root)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.run_id is not None:
            check_safe_segment("output.run_id", self.run_id, max_len=128)
        tmpl = self.db_path_template
        try:
            if not isinstance(tmpl, str):
                raise TypeError
            tmpl.format(db_id=0)
        except (KeyError, IndexError, TypeError, ValueError):
            raise ConfigValidationError("output.db_path_template must support format(db_id=...)") from None
        fields = [f for _, f, spec, _ in string.Formatter().parse(tmpl) if f is not None]
        if "db_id" not in fields:
            raise ConfigValidationError(
                "output.db_path_template must contain {db_id} or {db_id:0Nd}, e.g. 'db={db_id:05d}'"
            )
        check_safe_segment("output.shard_prefix", self.shard_prefix)
        check_safe_segment("output.run_registry_prefix", self.run_registry_prefix)
        if not isinstance(self.local_root, str) or not self.local_root:
            raise ConfigValidationError("output.local_root must be non-empty")


@dataclass
class WriterManifestConfig:
    """Manifest publishing. Only the default store (the one under ``s3_prefix``) is supported by the
    C core; ``custom_manifest_fields`` are copied into the manifest's ``custom`` map."""

    store: Optional[Any] = None
    custom_manifest_fields: Dict[str, Any] = field(default_factory=dict)
    credential_provider: Optional[Any] = None
    s3_connection_options: Optional[Mapping[str, Any]] = None

    def validate(self) -> None:
        if not isinstance(self.custom_manifest_fields, dict):
            raise ConfigValidationError("manifest.custom_manifest_fields must be a dict")
        if self.store is not None:
            raise ConfigValidationError(
                "manifest.store is not supported by this implementation: manifests are published "
                "under storage.s3_prefix"
            )


@dataclass
class KeyValueWriteConfig:
    """Key encoding, batch size and shard backend (validated at construction)."""

    key_encoding: Union[KeyEncoding, str] = KeyEncoding.U64BE
    batch_size: int = 50_000
    adapter_factory: Optional[Any] = None
    profile_value_sizes_for_page_size: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        self.key_encoding = KeyEncoding.from_value(self.key_encoding)
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size <= 0:
            raise ConfigValidationError("kv.batch_size must be > 0")
        factory = self.adapter_factory
        if isinstance(factory, SlateDbFactory):
            raise ConfigValidationError(SLATEDB_UNAVAILABLE)
        if self.profile_value_sizes_for_page_size and factory is not None:
            ps = getattr(factory, "page_size", 4096)
            if ps == "auto" or (isinstance(ps, int) and ps != 4096):
                raise ConfigValidationError(
                    "kv.profile_value_sizes_for_page_size cannot be combined with an adapter factory "
                    f"page_size={ps!r}; pick one page-size strategy"
                )


@dataclass
class WriterRetryConfig:
    shard_retry: Optional[RetryConfig] = None

    def validate(self) -> None:
        r = self.shard_retry
        if r is None:
            return
        if not isinstance(r, RetryConfig):
            raise ConfigValidationError("retry.shard_retry must be a RetryConfig")
        if r.max_retries < 0:  # DEF-9
            raise ConfigValidationError("retry.shard_retry.max_retries must be >= 0")


@dataclass
class KvWriteRateLimitConfig:
    """Rows/s and bytes/s limits (validated at construction)."""

    max_writes_per_second: Optional[float] = None
    max_write_bytes_per_second: Optional[float] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in ("max_writes_per_second", "max_write_bytes_per_second"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ConfigValidationError(f"rate_limits.{name} must be > 0 when set")


@dataclass
class WriterObservabilityConfig:
    metrics_collector: Optional[Any] = None

    def validate(self) -> None:
        c = self.metrics_collector
        if c is not None and not callable(getattr(c, "emit", None)):
            raise ConfigValidationError("observability.metrics_collector must have an emit(event, payload) method")


@dataclass
class WriterLifecycleConfig:
    """Run registry. The C core always writes the run record under ``output.run_registry_prefix``;
    a custom registry object is not supported."""

    run_registry: Optional[Any] = None

    def validate(self) -> None:
        if self.run_registry is not None:
            raise ConfigValidationError(
                "lifecycle.run_registry is not supported by this implementation: the run record is "
                "written under output.run_registry_prefix"
            )


@dataclass
class VectorSpec:
    """Unified KV+vector mode settings (validated; vector writes are not built in this version)."""

    dim: int = 0
    metric: str = "cosine"
    index_type: str = "hnsw"
    quantization: Optional[str] = None
    vector_col: Optional[str] = None
    index_params: Optional[Dict[str, Any]] = None

    def validate(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim <= 0:
            raise ConfigValidationError(f"vector.dim must be > 0, got {self.dim}")
        if self.metric not in ("cosine", "l2", "dot_product"):
            raise ConfigValidationError(
                f"vector_spec.metric must be one of cosine, l2, dot_product, got {self.metric!r}"
            )


# ---- sharding groups ---------------------------------------------------------------------------


@dataclass
class HashShardingConfig:
    """HASH sharding: xxh3_64(key) mod num_dbs; num_dbs fixed or from max_keys_per_shard."""

    num_dbs: Optional[int] = None
    max_keys_per_shard: Optional[int] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.max_keys_per_shard is not None:
            if self.num_dbs is not None:
                raise ConfigValidationError("sharding.num_dbs must be None when sharding.max_keys_per_shard is set")
            m = self.max_keys_per_shard
            if isinstance(m, bool) or not isinstance(m, int) or m <= 0:
                raise ConfigValidationError("sharding.max_keys_per_shard must be > 0")
            return
        n = self.num_dbs
        if n is None or isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ConfigValidationError("sharding.num_dbs must be > 0")


def _check_routing_values(values: Any) -> List[Union[int, str, bytes]]:
    if not isinstance(values, (list, tuple)):
        raise ConfigValidationError("Routing values must be a list")
    kinds = set()
    for v in values:
        if v is None:
            raise ConfigValidationError("Routing values must not contain None")
        if isinstance(v, bool) or not isinstance(v, (int, str, bytes)):
            raise ConfigValidationError(f"Routing values must be int, str or bytes; got {type(v).__name__}")
        kinds.add(type(v))
    if len(kinds) > 1:
        raise ConfigValidationError("Routing values must all have the same type")
    seen, dups = set(), []
    for v in values:
        if v in seen and v not in dups:
            dups.append(v)
        seen.add(v)
    if dups:
        raise ConfigValidationError(f"Routing values must be unique; duplicates={dups!r}")
    return list(values)


@dataclass
class CelShardingConfig:
    """CEL sharding: direct mode (the expression's result is the db_id) or categorical mode
    (token position in routing_values, given or inferred from the data)."""

    cel_expr: str = ""
    cel_columns: Dict[str, str] = field(default_factory=dict)
    routing_values: Optional[List[Union[int, str, bytes]]] = None
    infer_routing_values_from_data: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.cel_expr, str) or not self.cel_expr.strip():
            raise ConfigValidationError("CEL strategy requires cel_expr")
        if not isinstance(self.cel_columns, Mapping) or not self.cel_columns:
            raise ConfigValidationError("CEL strategy requires cel_columns")
        if self.infer_routing_values_from_data and self.routing_values is not None:
            raise ConfigValidationError("infer_routing_values_from_data cannot be combined with routing_values")
        if self.routing_values is not None:
            self.routing_values = _check_routing_values(self.routing_values)


# ---- top-level configs --------------------------------------------------------------------------

_FLAT_TO_GROUP = {
    "s3_prefix": "storage",
    "credential_provider": "storage",
    "s3_connection_options": "storage",
    "key_encoding": "kv",
    "batch_size": "kv",
    "adapter_factory": "kv",
    "shard_retry": "retry",
    "max_writes_per_second": "rate_limits",
    "max_write_bytes_per_second": "rate_limits",
    "metrics_collector": "observability",
    "run_registry": "lifecycle",
    "vector_spec": "vector",
}
_GROUP_TYPES = (
    ("storage", WriterStorageConfig),
    ("output", WriterOutputConfig),
    ("manifest", WriterManifestConfig),
    ("kv", KeyValueWriteConfig),
    ("retry", WriterRetryConfig),
    ("rate_limits", KvWriteRateLimitConfig),
    ("observability", WriterObservabilityConfig),
    ("lifecycle", WriterLifecycleConfig),
)
_UNSET: Any = object()


def _conflict(group: str, names: List[str]) -> ConfigValidationError:
    return ConfigValidationError(f"{group} cannot be combined with {', '.join(names)}")


@dataclass(init=False)
class BaseShardedWriteConfig:
    """Fields shared by every writer config (§3.2). Keyword-only; validates at construction."""

    storage: WriterStorageConfig
    output: WriterOutputConfig
    manifest: WriterManifestConfig
    kv: KeyValueWriteConfig
    retry: WriterRetryConfig
    rate_limits: KvWriteRateLimitConfig
    observability: WriterObservabilityConfig
    lifecycle: WriterLifecycleConfig
    vector: Optional[VectorSpec]
    shard_id_col: str

    def __init__(
        self,
        *,
        storage: Optional[WriterStorageConfig] = None,
        output: Optional[WriterOutputConfig] = None,
        manifest: Optional[WriterManifestConfig] = None,
        kv: Optional[KeyValueWriteConfig] = None,
        retry: Optional[WriterRetryConfig] = None,
        rate_limits: Optional[KvWriteRateLimitConfig] = None,
        observability: Optional[WriterObservabilityConfig] = None,
        lifecycle: Optional[WriterLifecycleConfig] = None,
        vector: Optional[VectorSpec] = None,
        shard_id_col: str = DB_ID_COL,
        **flat: Any,
    ) -> None:
        self._build_sharding(flat)
        unknown = sorted(k for k in flat if k not in _FLAT_TO_GROUP)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument '{unknown[0]}'")
        groups = {
            "storage": storage,
            "output": output,
            "manifest": manifest,
            "kv": kv,
            "retry": retry,
            "rate_limits": rate_limits,
            "observability": observability,
            "lifecycle": lifecycle,
            "vector": vector,
        }
        for group, obj in groups.items():
            names = [k for k in flat if _FLAT_TO_GROUP[k] == group]
            if obj is not None and names:
                raise _conflict(group, names)
        get = flat.get
        if storage is None:
            storage = WriterStorageConfig(
                s3_prefix=get("s3_prefix", ""),
                credential_provider=get("credential_provider"),
                s3_connection_options=get("s3_connection_options"),
            )
        if kv is None:
            kv = KeyValueWriteConfig(
                key_encoding=get("key_encoding", KeyEncoding.U64BE),
                batch_size=get("batch_size", 50_000),
                adapter_factory=get("adapter_factory"),
            )
        if retry is None:
            retry = WriterRetryConfig(shard_retry=get("shard_retry"))
        if rate_limits is None:
            rate_limits = KvWriteRateLimitConfig(
                max_writes_per_second=get("max_writes_per_second"),
                max_write_bytes_per_second=get("max_write_bytes_per_second"),
            )
        if observability is None:
            observability = WriterObservabilityConfig(metrics_collector=get("metrics_collector"))
        if lifecycle is None:
            lifecycle = WriterLifecycleConfig(run_registry=get("run_registry"))
        if vector is None:
            vector = get("vector_spec")
        self.storage = storage
        self.output = output if output is not None else WriterOutputConfig()
        self.manifest = manifest if manifest is not None else WriterManifestConfig()
        self.kv = kv
        self.retry = retry
        self.rate_limits = rate_limits
        self.observability = observability
        self.lifecycle = lifecycle
        self.vector = vector
        self.shard_id_col = shard_id_col
        self.validate()

    # Subclasses pop their sharding keywords from flat and build self.sharding.
    def _build_sharding(self, flat: Dict[str, Any]) -> None:
        return None

    def validate(self) -> None:
        """Validates every group in the order of §3.2 (raises ConfigValidationError)."""
        for name, typ in _GROUP_TYPES:
            if not isinstance(getattr(self, name), typ):
                raise ConfigValidationError(f"{name} must be {typ.__name__}")
        if self.vector is not None and not isinstance(self.vector, VectorSpec):
            raise ConfigValidationError("vector must be VectorSpec")
        if not isinstance(self.shard_id_col, str) or not self.shard_id_col:
            raise ConfigValidationError("shard_id_col must be a non-empty string")
        for name, _ in _GROUP_TYPES:
            getattr(self, name).validate()
        if self.vector is not None:
            self.vector.validate()

    # ---- aliases (§3.2) ----
    @property
    def s3_prefix(self) -> str:
        return self.storage.s3_prefix

    @s3_prefix.setter
    def s3_prefix(self, value: str) -> None:
        check_s3_prefix(value)
        self.storage.s3_prefix = value

    @property
    def credential_provider(self) -> Any:
        return self.storage.credential_provider

    @credential_provider.setter
    def credential_provider(self, value: Any) -> None:
        self.storage.credential_provider = value

    @property
    def s3_connection_options(self) -> Any:
        return self.storage.s3_connection_options

    @s3_connection_options.setter
    def s3_connection_options(self, value: Any) -> None:
        self.storage.s3_connection_options = value

    @property
    def key_encoding(self) -> KeyEncoding:
        return self.kv.key_encoding  # type: ignore[return-value]

    @key_encoding.setter
    def key_encoding(self, value: Any) -> None:
        self.kv.key_encoding = KeyEncoding.from_value(value)
        self.kv.validate()

    @property
    def batch_size(self) -> int:
        return self.kv.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        old = self.kv.batch_size
        self.kv.batch_size = value
        try:
            self.kv.validate()
        except ConfigValidationError:
            self.kv.batch_size = old
            raise

    @property
    def adapter_factory(self) -> Any:
        return self.kv.adapter_factory

    @adapter_factory.setter
    def adapter_factory(self, value: Any) -> None:
        self.kv.adapter_factory = value

    @property
    def metrics_collector(self) -> Any:
        return self.observability.metrics_collector

    @metrics_collector.setter
    def metrics_collector(self, value: Any) -> None:
        self.observability.metrics_collector = value

    @property
    def run_registry(self) -> Any:
        return self.lifecycle.run_registry

    @run_registry.setter
    def run_registry(self, value: Any) -> None:
        self.lifecycle.run_registry = value

    @property
    def shard_retry(self) -> Optional[RetryConfig]:
        return self.retry.shard_retry

    @shard_retry.setter
    def shard_retry(self, value: Optional[RetryConfig]) -> None:
        self.retry.shard_retry = value

    @property
    def vector_spec(self) -> Optional[VectorSpec]:
        return self.vector

    @vector_spec.setter
    def vector_spec(self, value: Optional[VectorSpec]) -> None:
        old = self.vector
        self.vector = value
        try:
            self.validate()
        except ConfigValidationError:
            self.vector = old
            raise


def _pop_present(flat: Dict[str, Any], names: tuple) -> Dict[str, Any]:
    return {k: flat.pop(k) for k in names if k in flat}


@dataclass(init=False)
class HashShardedWriteConfig(BaseShardedWriteConfig):
    """HASH-sharded build: ``num_dbs`` (or ``max_keys_per_shard``) plus the base fields."""

    sharding: HashShardingConfig = field(default=None)  # type: ignore[assignment]

    def __init__(self, *, sharding: Optional[HashShardingConfig] = None, **kwargs: Any) -> None:
        self._sharding_arg = sharding
        super().__init__(**kwargs)
        del self._sharding_arg

    def _build_sharding(self, flat: Dict[str, Any]) -> None:
        given = _pop_present(flat, ("num_dbs", "max_keys_per_shard"))
        sharding = self._sharding_arg
        if sharding is not None and given:
            raise _conflict("sharding", list(given))
        if sharding is None:
            sharding = HashShardingConfig(**given)
        if not isinstance(sharding, HashShardingConfig):
            raise ConfigValidationError("sharding must be HashShardingConfig")
        self.sharding = sharding

    def validate(self) -> None:
        if not isinstance(self.sharding, HashShardingConfig):
            raise ConfigValidationError("sharding must be HashShardingConfig")
        self.sharding.validate()
        super().validate()

    @property
    def num_dbs(self) -> Optional[int]:
        return self.sharding.num_dbs

    @property
    def max_keys_per_shard(self) -> Optional[int]:
        return self.sharding.max_keys_per_shard


@dataclass(init=False)
class CelShardedWriteConfig(BaseShardedWriteConfig):
    """CEL-sharded build: ``cel_expr`` + ``cel_columns`` (+ routing values) plus the base fields."""

    sharding: CelShardingConfig = field(default=None)  # type: ignore[assignment]

    def __init__(self, *, sharding: Optional[CelShardingConfig] = None, **kwargs: Any) -> None:
        self._sharding_arg = sharding
        super().__init__(**kwargs)
        del self._sharding_arg

    def _build_sharding(self, flat: Dict[str, Any]) -> None:
        given = _pop_present(flat, ("cel_expr", "cel_columns", "routing_values", "infer_routing_values_from_data"))
        given = {k: v for k, v in given.items() if v is not None}
        sharding = self._sharding_arg
        if sharding is not None and given:
            raise _conflict("sharding", list(given))
        if sharding is None:
            sharding = CelShardingConfig(**given)
        if not isinstance(sharding, CelShardingConfig):
            raise ConfigValidationError("sharding must be CelShardingConfig")
        self.sharding = sharding

    def validate(self) -> None:
        if not isinstance(self.sharding, CelShardingConfig):
            raise ConfigValidationError("sharding must be CelShardingConfig")
        self.sharding.validate()
        super().validate()

    @property
    def cel_expr(self) -> str:
        return self.sharding.cel_expr

    @property
    def cel_columns(self) -> Dict[str, str]:
        return dict(self.sharding.cel_columns)

    @property
    def routing_values(self) -> Optional[List[Union[int, str, bytes]]]:
        return self.sharding.routing_values

    @property
    def infer_routing_values_from_data(self) -> bool:
        return self.sharding.infer_routing_values_from_data


@dataclass(init=False)
class SingleDbWriteConfig(BaseShardedWriteConfig):
    """One database (num_dbs == 1), recorded as HASH xxh3_64 so readers route everything to 0."""

    @property
    def num_dbs(self) -> int:
        return 1
