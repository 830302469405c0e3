"""Fixtures of the shardyfusion Python tests (tests/python, run by tests/python/run.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def snap(tmp_path):
    """A fresh local snapshot prefix (a plain path: the embedded file:// store)."""
    return str(tmp_path / "snap")


@pytest.fixture
def local_root(tmp_path):
    return str(tmp_path / "scratch")


def shardy_cli():
    """The shardy CLI: $SHARDY_CLI, the one installed with the package, build/shardy, or PATH."""
    here = str(Path(sys.executable).parent / "shardy")  # installed with the package
    for cand in (os.environ.get("SHARDY_CLI"), here, shutil.which("shardy"), str(REPO / "build" / "shardy")):
        if cand and os.path.exists(cand) and os.access(cand, os.X_OK):
            return cand
    return None


@pytest.fixture
def cli():
    path = shardy_cli()
    if not path:
        pytest.skip("shardy CLI not found (set SHARDY_CLI or build it)")
    return path


@pytest.fixture
def s3():
    """A fresh bucket on the moto server of tests/s3/servers.sh (SHARDY_TEST_S3_ENDPOINT)."""
    endpoint = os.environ.get("SHARDY_TEST_S3_ENDPOINT")
    if not endpoint:
        pytest.skip("SHARDY_TEST_S3_ENDPOINT not set (eval \"$(tests/s3/servers.sh start)\")")
    bucket = f"shardy-py-{uuid.uuid4().hex[:12]}"
    req = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    urllib.request.urlopen(req, timeout=10).read()
    return {
        "endpoint": endpoint,
        "bucket": bucket,
        "prefix": f"s3://{bucket}/snap",
        "access_key": os.environ.get("SHARDY_TEST_S3_ACCESS_KEY", "shardy-moto"),
        "secret_key": os.environ.get("SHARDY_TEST_S3_SECRET_KEY", "shardy-moto-secret"),
        "options": {"endpoint_url": endpoint, "region_name": "us-east-1", "addressing_style": "path"},
    }


@pytest.fixture
def fault_proxy(tmp_path):
    """fault_proxy(*args) → URL of a tests/s3/faultproxy.py in front of moto (stopped after the test)."""
    endpoint = os.environ.get("SHARDY_TEST_S3_ENDPOINT")
    if not endpoint:
        pytest.skip("SHARDY_TEST_S3_ENDPOINT not set (eval \"$(tests/s3/servers.sh start)\")")
    procs = []

    def start(*args):
        out = tmp_path / f"proxy{len(procs)}.out"
        p = subprocess.Popen([sys.executable, str(REPO / "tests" / "s3" / "faultproxy.py"), "--upstream",
                              endpoint.replace("http://", ""), "--stats", str(tmp_path / f"stats{len(procs)}"),
                              *args], stdout=open(out, "w"), stderr=subprocess.STDOUT)
        procs.append(p)
        for _ in range(200):
            text = out.read_text()
            if text.startswith("PORT "):
                return f"http://127.0.0.1:{int(text.split()[1])}"
            time.sleep(0.05)
        raise RuntimeError("fault proxy did not start: " + out.read_text())

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


@pytest.fixture
def s3s(tmp_path):
    """A bucket on s3s-fs, which checks SigV4 signatures (SHARDY_TEST_S3S_*)."""
    endpoint = os.environ.get("SHARDY_TEST_S3S_ENDPOINT")
    if not endpoint or not shutil.which("curl"):
        pytest.skip("SHARDY_TEST_S3S_ENDPOINT not set or curl missing")
    key, secret = os.environ["SHARDY_TEST_S3S_ACCESS_KEY"], os.environ["SHARDY_TEST_S3S_SECRET_KEY"]
    bucket = f"shardy-py-{uuid.uuid4().hex[:12]}"
    cfg = tmp_path / "curl.cfg"
    cfg.write_text(f'user = "{key}:{secret}"\n')
    cfg.chmod(0o600)
    code = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4", "aws:amz:us-east-1:s3", "-K", str(cfg),
         "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-X", "PUT", f"{endpoint}/{bucket}"],
        capture_output=True, text=True,
    ).stdout
    assert code == "200"
    return {"prefix": f"s3://{bucket}/auth", "key": key, "secret": secret,
            "options": {"endpoint_url": endpoint, "region_name": "us-east-1", "addressing_style": "path"}}
