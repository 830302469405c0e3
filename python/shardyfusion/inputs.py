"""Writer inputs: how rows are read (writer spec §2.2, §2.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Optional, TypeVar

from .errors import ConfigValidationError
from .serde import ValueSpec

__all__ = ["ColumnWriteInput", "PythonRecordInput"]

T = TypeVar("T")


@dataclass
class ColumnWriteInput:
    """DataFrame engines: the key column and how a row becomes the value."""

    key_col: str
    value_spec: ValueSpec
    vector: Optional[Any] = None
    vector_fn: Optional[Callable[[Any], Any]] = None

    def validate(self) -> None:
        if not isinstance(self.key_col, str) or not self.key_col:
            raise ConfigValidationError("input.key_col must be non-empty")
        if self.value_spec is None:
            raise ConfigValidationError("input.value_spec is required")
        if not isinstance(self.value_spec, ValueSpec) and not callable(getattr(self.value_spec, "encode", None)):
            raise ConfigValidationError("input.value_spec must be a ValueSpec")
        if self.vector_fn is not None and not callable(self.vector_fn):
            raise ConfigValidationError("input.vector_fn must be callable")
        if self.vector is not None and callable(getattr(self.vector, "validate", None)):
            self.vector.validate()


@dataclass
class PythonRecordInput(Generic[T]):
    """Python writer: functions that turn a record into its key, value and CEL columns."""

    key_fn: Callable[[T], Any]
    value_fn: Callable[[T], bytes]
    columns_fn: Optional[Callable[[T], dict]] = None
    vector_fn: Optional[Callable[[T], Any]] = None

    def validate(self) -> None:
        for name in ("key_fn", "value_fn"):
            if not callable(getattr(self, name)):
                raise ConfigValidationError(f"input.{name} must be callable")
        for name in ("columns_fn", "vector_fn"):
            fn = getattr(self, name)
            if fn is not None and not callable(fn):
                raise ConfigValidationError(f"input.{name} must be callable")
