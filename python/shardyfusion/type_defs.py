"""Small shared types: RetryConfig, S3ConnectionOptions, S3Credentials, credential providers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional, Protocol, TypedDict, Union

__all__ = [
    "RetryConfig",
    "S3ConnectionOptions",
    "S3Credentials",
    "CredentialProvider",
    "StaticCredentialProvider",
    "EnvCredentialProvider",
]


@dataclass(frozen=True)
class RetryConfig:
    """Shard-level retry policy: total tries = 1 + max_retries; backoff grows geometrically."""

    max_retries: int = 3
    initial_backoff: timedelta = timedelta(seconds=1.0)
    backoff_multiplier: float = 2.0


class S3ConnectionOptions(TypedDict, total=False):
    endpoint_url: str
    region_name: str
    addressing_style: str
    signature_version: str
    verify_ssl: Union[bool, str]
    connect_timeout: int
    read_timeout: int
    max_attempts: int


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: Optional[str] = None
    secret_access_key: Optional[str] = None
    session_token: Optional[str] = None


class CredentialProvider(Protocol):
    def resolve(self) -> S3Credentials: ...


@dataclass(frozen=True)
class StaticCredentialProvider:
    access_key_id: Optional[str] = None
    secret_access_key: Optional[str] = None
    session_token: Optional[str] = None

    def resolve(self) -> S3Credentials:
        return S3Credentials(self.access_key_id, self.secret_access_key, self.session_token)


@dataclass(frozen=True)
class EnvCredentialProvider:
    """Each field from S3_* first, then AWS_*; empty values are skipped."""

    def resolve(self) -> S3Credentials:
        def pick(name: str) -> Optional[str]:
            for prefix in ("S3_", "AWS_"):
                v = os.environ.get(prefix + name)
                if v:
                    return v
            return None

        return S3Credentials(pick("ACCESS_KEY_ID"), pick("SECRET_ACCESS_KEY"), pick("SESSION_TOKEN"))
