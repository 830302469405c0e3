"""SlateDB factories (writer spec §9.2–9.3). The SlateDB backend is not built into this version of
libshardy: the factories exist so configurations can name them, and the writers refuse them with a
ConfigValidationError that says to use SqliteFactory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["SlateDbFactory", "LocalSlateDbFactory", "SLATEDB_UNAVAILABLE"]

SLATEDB_UNAVAILABLE = "SlateDB backend is not available in this build; use adapter_factory=SqliteFactory()"


@dataclass(frozen=True)
class SlateDbFactory:
    env_file: Optional[str] = None
    settings: Optional[Any] = None
    credential_provider: Optional[Any] = None
    bridge_timeouts: Optional[Any] = None
    s3_connection_options: Optional[Any] = None


@dataclass(frozen=True)
class LocalSlateDbFactory(SlateDbFactory):
    pass
