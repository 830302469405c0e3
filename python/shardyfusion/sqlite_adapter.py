"""SQLite shard backend selection (writer spec §9.4). The writing itself is done by libshardy.

``SqliteFactory`` is not re-exported from ``shardyfusion``: import it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

from .errors import ConfigValidationError, ShardyfusionError

__all__ = ["SqliteFactory", "SqliteAdapterError", "SUPPORTED_PAGE_SIZES"]

SUPPORTED_PAGE_SIZES = (4096, 8192, 16384, 32768, 65536)


class SqliteAdapterError(ShardyfusionError):
    """SQLite adapter misuse (write after seal/close, failed seal)."""


@dataclass(frozen=True)
class SqliteFactory:
    """SQLite shards: one ``shard.db`` per shard, page size fixed or ``"auto"`` (picked from the
    value sizes at seal time). ``cache_size_pages``, ``emit_sidecar`` are accepted for
    compatibility; the C writer uses its own cache settings and does not write sidecars."""

    page_size: Union[int, str] = 4096
    cache_size_pages: int = -2000
    s3_connection_options: Optional[Any] = None
    credential_provider: Optional[Any] = None
    emit_sidecar: bool = True

    def __post_init__(self) -> None:
        ps = self.page_size
        if ps == "auto":
            return
        if isinstance(ps, bool) or not isinstance(ps, int) or ps not in SUPPORTED_PAGE_SIZES:
            raise ConfigValidationError(
                f"SqliteFactory.page_size must be one of {', '.join(map(str, SUPPORTED_PAGE_SIZES))} "
                f"or 'auto', got {ps!r}"
            )

    @property
    def native_page_size(self) -> int:
        """page_size as libshardy takes it (-1 = auto)."""
        return -1 if self.page_size == "auto" else int(self.page_size)
