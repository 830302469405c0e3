"""Real Spark for the Spark writer tests: local mode, and a standalone master + two workers started
on loopback addresses by the tests (separate executor JVMs and Python workers, so the serialization
boundary is real). The two workers bind 127.0.0.2 and 127.0.0.3: Spark never launches a speculative
copy on the host that runs the original, so speculative execution needs two "hosts".

One SparkContext per process: the module fixtures stop their session at module end, and the test
modules run local-mode tests first, then standalone tests (file names sort that way)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _spark_home():
    import pyspark

    return os.path.dirname(pyspark.__file__)


def _base_builder(app):
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "2000")
        .config("spark.driver.memory", "2g")
    )


@pytest.fixture(scope="module")
def spark_local():
    """local[2,4]: two cores, each task may fail up to 4 times (task retries are real)."""
    spark = _base_builder("shardyfusion-local").master("local[2,4]").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


class Standalone:
    def __init__(self, root):
        self.root = root
        self.procs = []
        self.port = _free_port()
        self.ui = _free_port()
        self.master_url = f"spark://127.0.0.1:{self.port}"

    def _spawn(self, name, args):
        log = open(os.path.join(self.root, name + ".log"), "w")
        env = dict(os.environ, SPARK_HOME=_spark_home(), SPARK_LOCAL_DIRS=os.path.join(self.root, "local"),
                   SPARK_LOG_DIR=self.root, SPARK_NO_DAEMONIZE="1")
        p = subprocess.Popen([os.path.join(_spark_home(), "bin", "spark-class")] + args, stdout=log,
                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append((p, log))
        return p

    def start(self, workers=("127.0.0.2", "127.0.0.3")):
        self._spawn("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                               str(self.port), "--webui-port", str(self.ui)])
        for i, host in enumerate(workers):
            wdir = os.path.join(self.root, f"work{i}")
            os.makedirs(wdir, exist_ok=True)
            self._spawn(f"worker{i}", ["org.apache.spark.deploy.worker.Worker", "--host", host, "--cores", "1",
                                       "--memory", "1g", "--webui-port", str(_free_port()), "--work-dir", wdir,
                                       self.master_url])
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.ui}/json/", timeout=2) as r:
                    state = json.load(r)
                if len([w for w in state.get("workers", []) if w.get("state") == "ALIVE"]) == len(workers):
                    return
            except OSError:
                pass
            for p, _ in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a Spark daemon exited early; logs in {self.root}")
            time.sleep(0.5)
        raise RuntimeError(f"standalone cluster did not come up in 120 s; logs in {self.root}")

    def stop(self):
        import signal

        for p, log in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p, log in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
            log.close()


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("spark-standalone"))
    cluster = Standalone(root)
    try:
        cluster.start()
        spark = (
            _base_builder("shardyfusion-standalone")
            .master(cluster.master_url)
            .config("spark.executor.memory", "768m")
            .config("spark.executor.cores", "1")
            .config("spark.task.maxFailures", "4")
            .config("spark.speculation", "true")
            .config("spark.speculation.interval", "100ms")
            .config("spark.speculation.multiplier", "1.5")
            .config("spark.speculation.quantile", "0.5")
            .config("spark.speculation.minTaskRuntime", "200ms")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        yield spark
        spark.stop()
    finally:
        cluster.stop()


@pytest.fixture
def prefix(tmp_path):
    """A fresh snapshot prefix on local disk (the embedded default store)."""
    return str(tmp_path / "snap")


# --- the real S3 server (moto, started by tests/s3/servers.sh) and the fault proxy -------------
S3_ENDPOINT = os.environ.get("SHARDY_TEST_S3_ENDPOINT")
if S3_ENDPOINT:
    # Executors (local mode: children of the driver's JVM; standalone: spark.executorEnv) read
    # credentials from the environment, as any S3 client does.
    os.environ["AWS_ACCESS_KEY_ID"] = os.environ.get("SHARDY_TEST_S3_ACCESS_KEY", "test")
    os.environ["AWS_SECRET_ACCESS_KEY"] = os.environ.get("SHARDY_TEST_S3_SECRET_KEY", "test")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_bucket():
    """A fresh bucket on the moto server; skips (or fails with SHARDY_REQUIRE_S3=1) without one."""
    if not S3_ENDPOINT:
        if os.environ.get("SHARDY_REQUIRE_S3") == "1":
            pytest.fail("SHARDY_TEST_S3_ENDPOINT not set but SHARDY_REQUIRE_S3=1")
        pytest.skip("no S3 server (eval \"$(tests/s3/servers.sh start)\")")
    name = "spark-" + os.urandom(6).hex()
    req = urllib.request.Request(f"{S3_ENDPOINT}/{name}", method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    return name
