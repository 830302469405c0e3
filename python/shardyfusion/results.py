"""Build results (writer spec §2.6, §5.19)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Union

__all__ = ["ManifestRef", "WriterInfo", "RequiredShardMeta", "BuildDurations", "BuildStats", "BuildResult"]

KeyType = Union[int, str, bytes, None]


class ManifestRef(str):
    """The manifest URL. A ``str`` (compare, ``startswith``, ``split``) that also offers ``.ref``
    (the same string), ``.run_id`` and ``.published_at`` (the manifest directory timestamp)."""

    __slots__ = ()

    @property
    def ref(self) -> str:
        return str(self)

    def _dir(self) -> str:
        parts = str(self).rstrip("/").split("/")
        return parts[-2] if len(parts) >= 2 else ""

    @property
    def run_id(self) -> Optional[str]:
        d = self._dir()
        return d.split("_run_id=", 1)[1] if "_run_id=" in d else None

    @property
    def published_at(self) -> Optional[str]:
        d = self._dir()
        return d.split("_run_id=", 1)[0] if "_run_id=" in d else None


@dataclass(frozen=True)
class WriterInfo:
    stage_id: Optional[int] = None
    task_attempt_id: Optional[int] = None
    attempt: int = 0
    duration_ms: int = 0


@dataclass(frozen=True)
class RequiredShardMeta:
    db_id: int
    db_url: Optional[str]
    attempt: int = 0
    row_count: int = 0
    db_bytes: int = 0
    min_key: KeyType = None
    max_key: KeyType = None
    checkpoint_id: Optional[str] = None
    writer_info: WriterInfo = field(default_factory=WriterInfo)


@dataclass(frozen=True)
class BuildDurations:
    sharding_ms: int = 0
    write_ms: int = 0
    manifest_ms: int = 0
    total_ms: int = 0


@dataclass(frozen=True)
class BuildStats:
    durations: BuildDurations = field(default_factory=BuildDurations)
    num_attempt_results: int = 0
    num_winners: int = 0
    rows_written: int = 0


@dataclass(frozen=True)
class BuildResult:
    """What a successful write returns: the manifest AND _CURRENT were published."""

    run_id: str
    winners: List[RequiredShardMeta]
    manifest_ref: ManifestRef
    stats: BuildStats
    run_record_ref: Optional[str] = None
    num_dbs: Optional[int] = None
