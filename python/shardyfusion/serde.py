"""Key encodings and value encoders (writer spec §2.7).

``ValueSpec`` describes how a row becomes the stored value. Engines that move Arrow batches into C
use ``kind``/``columns`` to pick the native kernel (``binary_col`` / ``json_cols``); ``encode(row)``
is the row-at-a-time reference used by the Python writer and by tests.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Callable, Dict, List, Optional, Sequence

from .errors import ConfigValidationError

__all__ = ["KeyEncoding", "ValueSpec", "make_key_encoder", "encode_json_cols"]


class KeyEncoding(str, Enum):
    """How logical keys are stored in a shard (manifest ``key_encoding``)."""

    U64BE = "u64be"
    U32BE = "u32be"
    UTF8 = "utf8"
    RAW = "raw"

    def __str__(self) -> str:  # "u64be", not "KeyEncoding.U64BE"
        return self.value

    @classmethod
    def from_value(cls, value: Any) -> "KeyEncoding":
        """Coerces an enum or its string value; anything else is a ConfigValidationError."""
        if isinstance(value, KeyEncoding):
            return value
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        raise ConfigValidationError(f"Unsupported key encoding: {value}. Allowed: u64be, u32be, utf8, raw")


def _int_encoder(name: str, width: int) -> Callable[[Any], bytes]:
    hi = (1 << (8 * width)) - 1

    def encode(key: Any) -> bytes:
        if not isinstance(key, int):
            raise ConfigValidationError(f"{name} encoding expects int key, got {type(key).__name__}")
        if key < 0 or key > hi:
            raise ConfigValidationError(f"{name} encoding requires value in [0, 2^{8 * width}-1], got {key}")
        return key.to_bytes(width, "big")

    encode.__name__ = f"encode_{name}"
    return encode


def _text_encoder(name: str) -> Callable[[Any], bytes]:
    def encode(key: Any) -> bytes:
        if isinstance(key, str):
            return key.encode("utf-8")
        if isinstance(key, (bytes, bytearray)):  # DEF-16: bytearray accepted
            return bytes(key)
        raise ConfigValidationError(f"{name} encoding expects str or bytes key, got {type(key).__name__}")

    encode.__name__ = f"encode_{name}"
    return encode


_ENCODERS: Dict[KeyEncoding, Callable[[Any], bytes]] = {
    KeyEncoding.U64BE: _int_encoder("u64be", 8),
    KeyEncoding.U32BE: _int_encoder("u32be", 4),
    KeyEncoding.UTF8: _text_encoder("utf8"),
    KeyEncoding.RAW: _text_encoder("raw"),
}


def make_key_encoder(encoding: Any) -> Callable[[Any], bytes]:
    """The key → stored bytes function for an encoding (the same function object per encoding).

    The writers do this in C; this is the Python reference used for validation and tests."""
    return _ENCODERS[KeyEncoding.from_value(encoding)]


def _row_get(row: Any, col: str) -> Any:
    try:
        return row[col]
    except (KeyError, IndexError, ValueError, TypeError):
        return None


def _row_dict(row: Any) -> Dict[str, Any]:
    as_dict = getattr(row, "asDict", None)
    if callable(as_dict):
        return as_dict(recursive=True)
    return dict(row)


def encode_json_cols(row: Any, cols: Optional[Sequence[str]]) -> bytes:
    """JSON of the selected columns (missing → null) or of the whole row; sorted keys, compact
    separators, non-ASCII escaped — the exact bytes of the C kernel SHARDY_VALUE_JSON_COLS."""
    payload = {c: _row_get(row, c) for c in cols} if cols is not None else _row_dict(row)
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


class ValueSpec:
    """Row → bytes encoder with a ``description``. Build one with the class methods."""

    __slots__ = ("kind", "columns", "description", "_fn")

    def __init__(self, kind: str, columns: Optional[List[str]], description: str, fn: Callable[[Any], bytes]):
        self.kind = kind  # "binary_col" | "json_cols" | "callable"
        self.columns = columns
        self.description = description
        self._fn = fn

    def __repr__(self) -> str:
        return f"ValueSpec({self.description!r})"

    def encode(self, row: Any) -> bytes:
        return self._fn(row)

    __call__ = encode

    def referenced_columns(self) -> Optional[List[str]]:
        """The columns read by binary_col / explicit json_cols, else None."""
        return list(self.columns) if self.columns is not None else None

    @classmethod
    def binary_col(cls, col: str) -> "ValueSpec":
        def encode(row: Any) -> bytes:
            v = _row_get(row, col)
            if v is None:
                return b""
            if isinstance(v, bytes):
                return v
            if isinstance(v, (bytearray, memoryview)):
                return bytes(v)
            if isinstance(v, str):
                return v.encode("utf-8")
            raise ConfigValidationError(f"binary_col expects bytes/bytearray/str, got {type(v).__name__}")

        return cls("binary_col", [col], f"binary_col:{col}", encode)

    @classmethod
    def json_cols(cls, cols: Optional[Sequence[str]] = None) -> "ValueSpec":
        selected = list(cols) if cols is not None else None
        desc = "json_cols:" + (",".join(selected) if selected is not None else "all")
        return cls("json_cols", selected, desc, lambda row: encode_json_cols(row, selected))

    @classmethod
    def callable_encoder(cls, fn: Callable[[Any], bytes]) -> "ValueSpec":
        if not callable(fn):
            raise ConfigValidationError("callable_encoder expects a callable")
        name = getattr(fn, "__name__", None) or type(fn).__name__
        return cls("callable", None, name, fn)

    callable = callable_encoder  # alias
