"""shardyfusion — sharded, immutable key-value snapshots on object storage.

A thin Python layer over libshardy (the C core, ``shardyfusion._native``): configs, inputs and
options are validated here; routing, encoding, shard writing, publishing and reading are C.
Writers live in ``shardyfusion.writer.python`` and ``shardyfusion.writer.spark``;
``SqliteFactory`` is imported from ``shardyfusion.sqlite_adapter``.
"""

from ._native import NativeError, route_hash
from .config import (
    DB_ID_COL,
    BaseShardedWriteConfig,
    CelShardedWriteConfig,
    CelShardingConfig,
    HashShardedWriteConfig,
    HashShardingConfig,
    KeyValueWriteConfig,
    KvWriteRateLimitConfig,
    SingleDbWriteConfig,
    VectorSpec,
    WriterLifecycleConfig,
    WriterManifestConfig,
    WriterObservabilityConfig,
    WriterOutputConfig,
    WriterRetryConfig,
    WriterStorageConfig,
)
from .errors import (
    BridgeTimeoutError,
    ConfigValidationError,
    DbAdapterError,
    ManifestBuildError,
    ManifestParseError,
    ManifestStoreError,
    PoolExhaustedError,
    PublishCurrentError,
    PublishManifestError,
    ReaderStateError,
    S3TransientError,
    ShardAssignmentError,
    ShardCoverageError,
    ShardWriteError,
    ShardyfusionError,
    UnknownRoutingTokenError,
    VectorIndexError,
    VectorSearchError,
)
from .inputs import ColumnWriteInput, PythonRecordInput
from .metrics import ListMetricsCollector, MetricEvent
from .options import (
    BufferingOptions,
    DaskWriteOptions,
    PythonWriteOptions,
    RayWriteOptions,
    SharedMemoryOptions,
    SingleDbWriteOptions,
    SparkWriteOptions,
)
from .reader import ConcurrentShardedReader, ShardDetail, ShardedReader, SnapshotInfo
from .results import BuildDurations, BuildResult, BuildStats, ManifestRef, RequiredShardMeta, WriterInfo
from .serde import KeyEncoding, ValueSpec
from .slatedb_adapter import LocalSlateDbFactory, SlateDbFactory
from .type_defs import (
    EnvCredentialProvider,
    RetryConfig,
    S3ConnectionOptions,
    S3Credentials,
    StaticCredentialProvider,
)

__version__ = "0.1.0"

__all__ = [name for name in dir() if not name.startswith("_")]
