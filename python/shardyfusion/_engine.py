"""Glue between the Python configs and libshardy: option dicts, credentials, error mapping, results.

Every engine (Python writer, Spark, Dask, Ray) builds its native options with ``native_opts`` and
maps ``_native.NativeError`` with ``raise_native`` so errors carry the spec's classes and the C
core's messages.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from typing import Any, Dict, Iterator, List, Mapping, Optional

from . import _native
from .config import BaseShardedWriteConfig, CelShardedWriteConfig, HashShardedWriteConfig
from .errors import (
    ConfigValidationError,
    DbAdapterError,
    ManifestParseError,
    PublishCurrentError,
    PublishManifestError,
    ReaderStateError,
    S3TransientError,
    ShardAssignmentError,
    ShardCoverageError,
    ShardWriteError,
    ShardyfusionError,
)
from .results import BuildDurations, BuildResult, BuildStats, ManifestRef, RequiredShardMeta, WriterInfo
from .sqlite_adapter import SqliteFactory

__all__ = [
    "NativeError",
    "native_opts",
    "s3_option_list",
    "credentials_opts",
    "raise_native",
    "build_result",
    "key_from_json",
    "num_dbs_for_rows",
]

NativeError = _native.NativeError

# ---- options ------------------------------------------------------------------------------------


def s3_option_list(options: Optional[Mapping[str, Any]]) -> Optional[List[str]]:
    """S3ConnectionOptions → the C core's "KEY=VALUE" strings (bools as true/false)."""
    if not options:
        return None
    out = []
    for k, v in options.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        out.append(f"{k}={v}")
    return out


def num_dbs_for_rows(rows: int, max_keys_per_shard: int) -> int:
    """max(1, ceil(rows / max_keys_per_shard)) (shardy_num_dbs_for_rows)."""
    return max(1, math.ceil(rows / max_keys_per_shard))


def _page_size(config: BaseShardedWriteConfig) -> Optional[int]:
    factory = config.kv.adapter_factory
    if factory is None:
        return None
    if isinstance(factory, SqliteFactory):
        return factory.native_page_size
    ps = getattr(factory, "page_size", None)
    if ps == "auto":
        return -1
    return ps if isinstance(ps, int) and not isinstance(ps, bool) else None


def _routing_values(values: Optional[list]) -> Optional[list]:
    if values is None:
        return None
    if values and isinstance(values[0], bytes):
        raise ConfigValidationError(
            "bytes routing values are not supported (they cannot round-trip through the manifest); "
            "use str or int values"
        )
    return list(values)


def native_opts(
    config: BaseShardedWriteConfig,
    *,
    key_col: str,
    writer_type: str,
    num_dbs: Optional[int] = None,
) -> Dict[str, Any]:
    """The shardy_build_opts dict for a config. ``num_dbs`` overrides the HASH config's (e.g. when
    resolved from max_keys_per_shard). Identity (credential_provider) is not included: wrap the
    native call in ``credentials_opts(config)`` and merge its dict."""
    out = config.output
    custom = config.manifest.custom_manifest_fields
    try:
        custom_json = json.dumps(custom, sort_keys=True) if custom else None
    except (TypeError, ValueError) as e:
        raise ConfigValidationError(f"manifest.custom_manifest_fields must be JSON-serialisable: {e}") from None
    prefix = config.storage.s3_prefix
    if "://" not in prefix:
        prefix = os.path.abspath(prefix)  # a local path: the embedded file:// store
    opts: Dict[str, Any] = {
        "prefix": prefix,
        "key_encoding": config.kv.key_encoding.value,
        "key_col": key_col,
        "run_id": out.run_id,
        "shard_prefix": out.shard_prefix,
        "db_path_template": out.db_path_template,
        "run_registry_prefix": out.run_registry_prefix,
        "local_dir": out.local_root,
        "custom_json": custom_json,
        "writer_type": writer_type,
        "batch_size": config.kv.batch_size,
        "max_writes_per_second": config.rate_limits.max_writes_per_second,
        "max_write_bytes_per_second": config.rate_limits.max_write_bytes_per_second,
        "page_size": _page_size(config),
        "s3_options": s3_option_list(config.storage.s3_connection_options),
    }
    if isinstance(config, HashShardedWriteConfig):
        opts["num_dbs"] = num_dbs if num_dbs is not None else config.num_dbs
    elif isinstance(config, CelShardedWriteConfig):
        opts["cel_expr"] = config.cel_expr
        opts["cel_columns"] = [f"{k}:{v}" for k, v in config.cel_columns.items()]
        opts["routing_values"] = _routing_values(config.routing_values)
    else:
        opts["num_dbs"] = num_dbs if num_dbs is not None else getattr(config, "num_dbs", 1)
    return {k: v for k, v in opts.items() if v is not None}


def _toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string


@contextlib.contextmanager
def credentials_opts(provider: Any, profile: str = "default") -> Iterator[Dict[str, Any]]:
    """Resolves a credential provider into a private (0600) credentials.toml for the duration of
    the block and yields the native options naming it ({} without a provider or identity). The C
    core reads the file only while opening a builder/reader/run, so the block should cover just
    that call. The file is deleted on exit."""
    if provider is None:
        yield {}
        return
    creds = provider.resolve()
    fields = {
        "access_key_id": getattr(creds, "access_key_id", None),
        "secret_access_key": getattr(creds, "secret_access_key", None),
        "session_token": getattr(creds, "session_token", None),
    }
    if not any(fields.values()):
        yield {}
        return
    fd, path = tempfile.mkstemp(prefix="shardyfusion_creds_", suffix=".toml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"[{profile}]\n")
            for k, v in fields.items():
                if v:
                    f.write(f"{k} = {_toml_str(v)}\n")
        os.chmod(path, 0o600)
        yield {"credentials_file": path, "credentials_profile": profile}
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


# ---- errors -------------------------------------------------------------------------------------

_CURRENT_FAILED = re.compile(r"manifest (\S+) was published but _CURRENT was not updated")


def _classify(err: NativeError, context: str) -> type:
    st = err.status_name
    msg = str(err)
    if context in ("config", "open"):
        if st in ("SHARDY_EINVAL", "SHARDY_EUNSUPPORTED", "SHARDY_ERANGE", "SHARDY_ETYPE"):
            return ConfigValidationError
    if context == "add":
        if st in ("SHARDY_ETYPE", "SHARDY_ERANGE", "SHARDY_EINVAL"):
            return ConfigValidationError
        if st == "SHARDY_EROUTE":
            return ShardAssignmentError
    if context in ("finish", "publish"):
        if _CURRENT_FAILED.search(msg):
            return PublishCurrentError
        if "manifest publish failed" in msg:
            return PublishManifestError
        if st == "SHARDY_EROUTE":
            return ShardCoverageError if "coverage" in msg.lower() else ShardAssignmentError
    if context == "read":
        if st == "SHARDY_ECLOSED":
            return ReaderStateError
        if st == "SHARDY_ENOTFOUND" and "CURRENT" in msg:
            return ReaderStateError
        if st in ("SHARDY_EFORMAT", "SHARDY_EVERSION"):
            return ReaderStateError if "No valid manifest" in msg else ManifestParseError
        if st in ("SHARDY_EINVAL", "SHARDY_ETYPE", "SHARDY_ERANGE", "SHARDY_EUNSUPPORTED"):
            return ConfigValidationError
        if st == "SHARDY_ETIMEOUT":
            return S3TransientError
        return DbAdapterError
    if st == "SHARDY_ETIMEOUT":
        return S3TransientError
    if context in ("finish", "publish", "add", "write"):
        return ShardWriteError
    return ShardyfusionError


def raise_native(err: NativeError, context: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
    """Re-raises a NativeError as the spec's error class (message = the C message, cause chained).

    context: "config"/"open" (opening a builder/run: bad options → ConfigValidationError), "add"
    (key/routing errors of a row), "finish"/"publish" (shard writes, coverage, manifest and
    _CURRENT publish), "read" (reader calls), "write" (attempt writers)."""
    cls = _classify(err, context)
    msg = str(err)
    if cls is PublishCurrentError:
        m = _CURRENT_FAILED.search(msg)
        exc: ShardyfusionError = PublishCurrentError(msg, manifest_ref=m.group(1) if m else None)
    else:
        exc = cls(msg)
    exc.status = getattr(err, "status", None)
    exc.status_name = getattr(err, "status_name", None)
    raise exc from err


# ---- results ------------------------------------------------------------------------------------


def key_from_json(v: Any) -> Any:
    """A manifest/attempt min_key/max_key: JSON int/str, or {"hex": "..."} for non-UTF-8 bytes."""
    if isinstance(v, dict) and "hex" in v:
        return bytes.fromhex(v["hex"])
    return v


def _writer_info(d: Optional[Mapping[str, Any]]) -> WriterInfo:
    if not d:
        return WriterInfo()
    return WriterInfo(
        stage_id=d.get("stage_id"),
        task_attempt_id=d.get("task_attempt_id"),
        attempt=d.get("attempt", 0) or 0,
        duration_ms=d.get("duration_ms", 0) or 0,
    )


def _shard_meta(s: Mapping[str, Any]) -> RequiredShardMeta:
    wi = s.get("writer_info")
    return RequiredShardMeta(
        db_id=s["db_id"],
        db_url=s.get("db_url"),
        attempt=s.get("attempt", 0) or 0,
        row_count=s.get("row_count", 0) or 0,
        db_bytes=s.get("db_bytes", 0) or 0,
        min_key=key_from_json(s.get("min_key")),
        max_key=key_from_json(s.get("max_key")),
        checkpoint_id=s.get("checkpoint_id"),
        writer_info=_writer_info(wi) if wi else WriterInfo(duration_ms=s.get("duration_ms", 0) or 0),
    )


def build_result(res: Mapping[str, Any], *, sharding_ms: Optional[int] = None) -> BuildResult:
    """BuildResult from the C result JSON (shardy_build_result_json, or shardy_run_publish's with
    "winners" attempt objects). Winners are the non-empty shards, ascending db_id."""
    shards = res.get("winners")
    if shards is None:
        shards = res.get("shards", [])
    winners = sorted((_shard_meta(s) for s in shards if s.get("db_url")), key=lambda w: w.db_id)
    d = res.get("durations_ms", {}) or {}
    durations = BuildDurations(
        sharding_ms=d.get("sharding_ms", 0) if sharding_ms is None else sharding_ms,
        write_ms=d.get("write_ms", 0),
        manifest_ms=d.get("manifest_ms", 0),
        total_ms=d.get("total_ms", 0),
    )
    stats = BuildStats(
        durations=durations,
        num_attempt_results=res.get("num_attempts", res.get("num_dbs", len(winners))),
        num_winners=len(winners),
        rows_written=sum(w.row_count for w in winners),
    )
    return BuildResult(
        run_id=res["run_id"],
        winners=winners,
        manifest_ref=ManifestRef(res["manifest_ref"]),
        stats=stats,
        run_record_ref=res.get("run_record_ref"),
        num_dbs=res.get("num_dbs"),
    )
