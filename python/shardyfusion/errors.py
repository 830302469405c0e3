"""Error classes of shardyfusion (writer spec §7.1, reader spec §2.13).

Errors raised after a libshardy call failed carry the C status as ``status`` (int) and
``status_name`` (e.g. ``"SHARDY_EINVAL"``) and chain the ``_native.NativeError`` as ``__cause__``;
their message is the C library's message.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "ShardyfusionError",
    "ConfigValidationError",
    "ShardAssignmentError",
    "ShardCoverageError",
    "DbAdapterError",
    "BridgeTimeoutError",
    "ManifestBuildError",
    "PublishManifestError",
    "PublishCurrentError",
    "ManifestParseError",
    "ReaderStateError",
    "PoolExhaustedError",
    "ManifestStoreError",
    "ShardWriteError",
    "S3TransientError",
    "VectorIndexError",
    "VectorSearchError",
    "UnknownRoutingTokenError",
]


class ShardyfusionError(Exception):
    """Base class of every shardyfusion error. ``retryable`` says whether retrying may help."""

    retryable: bool = False
    status: Optional[int] = None
    status_name: Optional[str] = None


class ConfigValidationError(ShardyfusionError, ValueError):
    """Invalid configuration, input or options (raised before anything is written)."""


class ShardAssignmentError(ShardyfusionError):
    """A row could not be routed to a shard, or routing verification failed."""


class ShardCoverageError(ShardyfusionError):
    """Attempt results do not cover the shards of the build (out-of-range or failed shards)."""


class DbAdapterError(ShardyfusionError):
    """A shard database could not be opened, read or closed."""


class BridgeTimeoutError(ShardyfusionError):
    retryable = True


class ManifestBuildError(ShardyfusionError):
    pass


class PublishManifestError(ShardyfusionError):
    """Publishing the manifest (or, as the subclass below, the _CURRENT pointer) failed."""

    retryable = True


class PublishCurrentError(PublishManifestError):
    """The manifest was published but ``_CURRENT`` was not updated; ``manifest_ref`` names it."""

    retryable = True

    def __init__(self, message: str = "", manifest_ref: Optional[str] = None):
        super().__init__(message)
        self.manifest_ref = manifest_ref


class ManifestParseError(ShardyfusionError):
    pass


class ReaderStateError(ShardyfusionError):
    pass


class PoolExhaustedError(ShardyfusionError):
    retryable = True


class ManifestStoreError(ShardyfusionError):
    retryable = True


class ShardWriteError(ShardyfusionError):
    retryable = True


class S3TransientError(ShardyfusionError):
    retryable = True


class VectorIndexError(ShardyfusionError):
    pass


class VectorSearchError(ShardyfusionError):
    pass


class UnknownRoutingTokenError(ValueError):
    """A categorical CEL token is not among the snapshot's routing values (not a ShardyfusionError)."""
