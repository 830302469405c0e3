"""Helpers of the Spark writer tests (imported by the test modules; fixtures are in conftest.py)."""
import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
S3_ENDPOINT = os.environ.get("SHARDY_TEST_S3_ENDPOINT")


def shardy_bin():
    """The shardy CLI: $SHARDY_BIN, the one installed with the package, else the repository's build."""
    for path in (os.environ.get("SHARDY_BIN"), os.path.join(os.path.dirname(sys.executable), "shardy"),
                 os.path.join(REPO, "build", "shardy")):
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail("shardy CLI not found (build the repository or set SHARDY_BIN)")


def attempt_dirs(prefix):
    """Every .../db=NNNNN/attempt=NN directory under a local prefix, as (db, attempt) pairs."""
    out = []
    for root, dirs, _files in os.walk(prefix):
        base = os.path.basename(root)
        if base.startswith("attempt="):
            db = os.path.basename(os.path.dirname(root))
            out.append((db, base))
    return sorted(out)


def cli_multiget(prefix, keys):
    """{key: value bytes or None} read back with the shardy CLI."""
    out = subprocess.run(
        [shardy_bin(), "--current-url", prefix, "--output-format", "jsonl", "--value-encoding", "hex", "multiget", "-"],
        input="".join(f"{k}\n" for k in keys), capture_output=True, text=True, check=True,
    ).stdout
    got = {}
    for line in out.splitlines():
        for rec in json.loads(line)["results"]:
            got[int(rec["key"])] = bytes.fromhex(rec["value"]) if rec["found"] else None
    return got


def _s3_curl(url):
    """(status, body) of a SigV4-signed GET (objects our writers create are private)."""
    user = f"{os.environ['AWS_ACCESS_KEY_ID']}:{os.environ['AWS_SECRET_ACCESS_KEY']}"
    out = subprocess.run(["curl", "-s", "-K", "-", "-w", "\n%{http_code}", url],
                         input=f'user = "{user}"\naws-sigv4 = "aws:amz:us-east-1:s3"\n'.encode(),
                         capture_output=True, check=True).stdout
    body, _, code = out.rpartition(b"\n")
    return int(code), body


def s3_get(bucket, key):
    """Object bytes from the S3 server (None when missing)."""
    code, body = _s3_curl(f"{S3_ENDPOINT}/{bucket}/{urllib.parse.quote(key, safe='/')}")
    if code == 404:
        return None
    assert code == 200, (code, body[:300])
    return body


def s3_keys(bucket, prefix):
    import re

    code, body = _s3_curl(f"{S3_ENDPOINT}/{bucket}?list-type=2&prefix={urllib.parse.quote(prefix)}&max-keys=1000")
    assert code == 200, (code, body[:300])
    return re.findall(r"<Key>([^<]*)</Key>", body.decode())


def s3_options(endpoint=None, **extra):
    opts = {"endpoint_url": endpoint or S3_ENDPOINT, "region_name": "us-east-1"}
    opts.update(extra)
    return opts


@contextlib.contextmanager
def local_property(spark, name, value):
    """Sets a Spark local property (seen by the tasks of jobs started in the block) for the block."""
    sc = spark.sparkContext
    sc.setLocalProperty(name, value)
    try:
        yield
    finally:
        sc.setLocalProperty(name, None)


def build_with_hook(spark, hook, value, df, config, input, options=None):  # noqa: A002
    """write_hash_sharded with a writer test hook (shardyfusion.test.<hook>) set for the build."""
    from shardyfusion.writer.spark import write_hash_sharded

    with local_property(spark, "shardyfusion.test." + hook, value):
        return write_hash_sharded(df, config, input, options)


def winners_only(prefix, result):
    """Every attempt directory left under the prefix is a winner's."""
    want = sorted((w.db_url.rsplit("/", 2)[-2], w.db_url.rsplit("/", 1)[-1]) for w in result.winners)
    assert attempt_dirs(prefix) == want
