#!/usr/bin/env python3
"""arrow_json_check.py TOOL [--seed S] [--batches B] — json_cols / binary_col byte-exactness.

Generates random batches of every Arrow type the encoder supports (with nulls, struct and child
offsets, 32- and 64-bit offsets), feeds them to the C tool (tests/tools/arrow_json.c) and compares
its bytes with what Python itself produces: json.dumps(d, sort_keys=True, separators=(",", ":"))
for json_cols (values as pyarrow's to_pylist would give them: float32 widened to float), and
bytes/UTF-8 for binary_col. Exits 1 on the first mismatch, printing the row.
"""
import json
import math
import random
import struct
import subprocess
import sys

INT_RANGES = {
    "c": (-(2**7), 2**7 - 1), "s": (-(2**15), 2**15 - 1), "i": (-(2**31), 2**31 - 1),
    "l": (-(2**63), 2**63 - 1), "C": (0, 2**8 - 1), "S": (0, 2**16 - 1), "I": (0, 2**32 - 1),
    "L": (0, 2**64 - 1),
}
SPECIAL_FLOATS = [0.0, -0.0, 0.1, 1e16, 1e15, 9999999999999998.0, 1.5e-07, 1e-4, 1e-5, 123456.789,
                  5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, math.inf, -math.inf,
                  math.nan, 1.0, -2.5, 1e22, 1 / 3]
SPECIAL_CHARS = ['"', "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", "\x80", "\u00e9",
                 "\u2028", "\ufeff", "\uffff", "\U0001F600", "\U0010FFFF", "/", " ", "a", "Z"]


def rand_int(rng, fmt):
    lo, hi = INT_RANGES[fmt]
    r = rng.random()
    if r < 0.2:
        return rng.choice([lo, hi, 0, 1, -1 if lo < 0 else 2])
    if r < 0.5:
        return rng.randint(max(lo, -1000), min(hi, 1000))
    return rng.randint(lo, hi)


def rand_float(rng, f32):
    r = rng.random()
    if r < 0.3:
        x = rng.choice(SPECIAL_FLOATS)
    elif r < 0.6:
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
    else:
        x = rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-30, 30)
    if f32:
        try:
            x = struct.unpack("<f", struct.pack("<f", x))[0]
        except OverflowError:
            x = math.inf if x > 0 else -math.inf
    return x


def rand_str(rng):
    n = rng.randint(0, 12)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.4:
            out.append(rng.choice(SPECIAL_CHARS))
        elif r < 0.7:
            out.append(chr(rng.randint(0x20, 0x7E)))
        else:
            cp = rng.randint(0x80, 0x10FFFF)
            if 0xD800 <= cp <= 0xDFFF:
                cp = 0xE000
            out.append(chr(cp))
    return "".join(out)


def rand_name(rng, used):
    while True:
        name = rng.choice(["a", "b", "id", "é", "Z", "_x", "k\u2028", "\U0001F600", "aa", "a b", "A"]) + \
            str(rng.randint(0, 99))
        if name not in used:
            used.add(name)
            return name


def value_text(fmt, v):
    if v is None:
        return "-"
    if fmt in INT_RANGES:
        return str(v)
    if fmt in "fg":
        return v.hex()
    if fmt == "b":
        return "1" if v else "0"
    if fmt in "uU":
        return v.encode("utf-8").hex()
    if fmt in "zZ":
        return v.hex()
    raise ValueError(fmt)


def gen_column(rng, fmt, rows):
    null_p = rng.choice([0.0, 0.0, 0.1, 0.5])
    vals = []
    for _ in range(rows):
        if fmt == "n" or rng.random() < null_p:
            vals.append(None)
        elif fmt in INT_RANGES:
            vals.append(rand_int(rng, fmt))
        elif fmt in "fg":
            vals.append(rand_float(rng, fmt == "f"))
        elif fmt == "b":
            vals.append(rng.random() < 0.5)
        elif fmt in "uU":
            vals.append(rand_str(rng))
        else:
            vals.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8))))
    return vals


def run_case(tool, rng, binary):
    rows = rng.randint(0, 40)
    soff, coff = rng.randint(0, 9), rng.randint(0, 9)
    used = set()
    fmts = list("csilCSILfgbuUn") if not binary else []
    rng.shuffle(fmts)
    fmts = fmts[: rng.randint(1, len(fmts))] if fmts else []
    if binary:
        fmts = [rng.choice("uUzZn")] + [rng.choice("lu")]
    cols = [(rand_name(rng, used), f, gen_column(rng, f, rows)) for f in fmts]
    key = ("__key", "l", list(range(rows)))
    cols.append(key)
    lines = [f"batch {rows} {soff} {coff}"]
    for name, fmt, vals in cols:
        lines.append(f"col {name.encode().hex()} {fmt}")
        lines += [value_text(fmt, v) for v in vals]
    names = [c[0] for c in cols]
    if binary:
        spec_cols = [names[0]]
        lines.append(f"spec binary {names[0].encode().hex()}")
    else:
        skip = rng.choice([None, "__key", rng.choice(names)])
        if rng.random() < 0.4:
            spec_cols = None
        else:
            spec_cols = rng.sample(names, rng.randint(0, len(names)))
            spec_cols += ["missing" + str(i) for i in range(rng.randint(0, 2))]
            if rng.random() < 0.3 and spec_cols:
                spec_cols.append(spec_cols[0])  # selected twice
            if not spec_cols:
                spec_cols = ["only_missing"]
        lines.append("spec json " + (skip.encode().hex() if skip else "-") +
                     "".join(" " + c.encode().hex() for c in (spec_cols or [])))
    lines.append("key " + "__key".encode().hex())
    p = subprocess.run([tool], input=("\n".join(lines) + "\n").encode(), capture_output=True)
    if p.returncode != 0:
        sys.exit(f"tool failed: {p.stderr.decode()}\ninput:\n" + "\n".join(lines))
    got = p.stdout.decode().split("\n")[:-1]
    if len(got) != rows:
        sys.exit(f"tool printed {len(got)} rows, expected {rows}")
    table = {name: vals for name, _, vals in cols}
    for i in range(rows):
        if binary:
            v = table[names[0]][i]
            want = b"" if v is None else (v.encode() if isinstance(v, str) else v)
        else:
            row = {n: table[n][i] for n in names if n != skip}  # the clean row
            sel = row if spec_cols is None else {c: row.get(c) for c in spec_cols}
            want = json.dumps(sel, sort_keys=True, separators=(",", ":")).encode()
        if bytes.fromhex(got[i]) != want:
            sys.exit(f"row {i}: C {bytes.fromhex(got[i])!r}\n  Python {want!r}")
    return rows


def main():
    tool = sys.argv[1]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1
    batches = int(sys.argv[sys.argv.index("--batches") + 1]) if "--batches" in sys.argv else 300
    rng = random.Random(seed)
    total = 0
    for b in range(batches):
        total += run_case(tool, rng, binary=(b % 5 == 4))
    print(f"{batches} batches, {total} rows byte-identical to Python json.dumps")


if __name__ == "__main__":
    main()
