"""Key encoders and ValueSpec (writer spec §2.7; acceptance 14, 15, 20–22)."""

from __future__ import annotations

import json

import pytest

from shardyfusion import ConfigValidationError, KeyEncoding, ValueSpec
from shardyfusion.serde import make_key_encoder


def test_u64be_and_u32be():
    e = make_key_encoder("u64be")
    assert e(0) == b"\0" * 8 and e(2**64 - 1) == b"\xff" * 8 and e(258) == b"\0" * 6 + b"\x01\x02"
    assert e(True) == b"\0" * 7 + b"\x01"
    keys = [0, 1, 255, 256, 2**40, 2**64 - 1]
    assert sorted(keys, key=e) == keys
    with pytest.raises(ConfigValidationError, match="u64be encoding expects int"):
        e("1")
    with pytest.raises(ConfigValidationError, match="u64be encoding requires"):
        e(-1)
    with pytest.raises(ConfigValidationError, match="u64be encoding requires"):
        e(2**64)
    e4 = make_key_encoder(KeyEncoding.U32BE)
    assert e4(2**32 - 1) == b"\xff" * 4
    with pytest.raises(ConfigValidationError, match="u32be encoding expects int"):
        e4(b"x")
    with pytest.raises(ConfigValidationError, match="u32be encoding requires"):
        e4(2**32)


def test_encoders_are_cached_and_validated():
    assert make_key_encoder("utf8") is make_key_encoder(KeyEncoding.UTF8)
    assert make_key_encoder("utf8") is not make_key_encoder("raw")
    assert make_key_encoder("raw")("é") == "é".encode()
    with pytest.raises(ConfigValidationError, match="Unsupported key encoding"):
        make_key_encoder("latin1")


def test_binary_col():
    v = ValueSpec.binary_col("payload")
    assert v.description == "binary_col:payload" and v.referenced_columns() == ["payload"]
    assert v.encode({"payload": b"\x00\x01"}) == b"\x00\x01"
    assert v.encode({"payload": None}) == b""
    assert v.encode({"payload": bytearray(b"ab")}) == b"ab"
    assert v.encode({"payload": "é"}) == "é".encode()
    with pytest.raises(ConfigValidationError, match="binary_col expects"):
        v.encode({"payload": 3})


def test_json_cols_bytes_format():
    v = ValueSpec.json_cols(["b", "a", "missing"])
    assert v.description == "json_cols:b,a,missing"
    out = v.encode({"a": 1, "b": "é", "c": 3})
    assert out == b'{"a":1,"b":"\\u00e9","missing":null}'
    assert out == json.dumps({"a": 1, "b": "é", "missing": None}, sort_keys=True, separators=(",", ":")).encode()
    allc = ValueSpec.json_cols()
    assert allc.description == "json_cols:all" and allc.referenced_columns() is None
    assert allc.encode({"z": {"y": [1, 2.5]}, "a": None}) == b'{"a":null,"z":{"y":[1,2.5]}}'


def test_json_cols_uses_asdict_when_available():
    class Row:
        def asDict(self, recursive=False):
            assert recursive
            return {"k": 1, "v": "x"}

    assert ValueSpec.json_cols().encode(Row()) == b'{"k":1,"v":"x"}'


def test_callable_encoder():
    def enc(row):
        return b"X" + row

    v = ValueSpec.callable_encoder(enc)
    assert v.description == "enc" and v.encode(b"1") == b"X1"
    lam = ValueSpec.callable(lambda r: r)
    assert lam.description == "<lambda>"

    def boom(row):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError, match="no"):
        ValueSpec.callable_encoder(boom).encode(1)
