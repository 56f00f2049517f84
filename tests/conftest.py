"""Real parts for every test: a local S3-compatible server (moto in server mode), one
Ray head node started with ``ray start --head`` (token authentication on) shared by
the whole session, and inputs generated as real H.264 in each source's layout."""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before Ray is imported anywhere: workers share this interpreter, and the cluster
# uses token authentication as `ray start` does by default.
os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"
os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
# Credentials for the local S3 server only; the canary lets tests check leaks.
os.environ["AWS_ACCESS_KEY_ID"] = "vidray-test-key"
os.environ["AWS_SECRET_ACCESS_KEY"] = "CANARY-" + secrets.token_hex(8)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(var, None)

from tests.helpers.faultproxy import FaultProxy  # noqa: E402
from vidray import cluster, synth  # noqa: E402
from vidray.cluster import proc_stat, proc_table  # noqa: E402  (the tests' /proc readers)

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def s3_proxy() -> Iterator[FaultProxy]:
    """moto's S3 server on 127.0.0.1 behind a fault-injecting proxy (faults off unless
    a test turns them on); clients reach it through AWS_ENDPOINT_URL like real S3."""
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        proxy = FaultProxy(port).start()
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{proxy.port}"
        yield proxy
        proxy.stop()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def s3_endpoint(s3_proxy: FaultProxy) -> str:
    return f"http://127.0.0.1:{s3_proxy.port}"


@pytest.fixture(scope="session")
def ray_head(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One Ray head node for the session, started as users start one."""
    ray_tmp = Path("/tmp") / f"vidray-ray-{os.getpid()}"
    gcs_port, dash_port = free_port(), free_port()
    cmd = [
        str(BIN / "ray"), "start", "--head", f"--port={gcs_port}",
        "--dashboard-host=127.0.0.1", f"--dashboard-port={dash_port}",
        "--include-dashboard=true", "--num-cpus=2", "--num-gpus=0", f"--temp-dir={ray_tmp}",
        "--disable-usage-stats",
    ]  # fmt: skip
    # As cluster/ starts its nodes: idle workers import vidray's stages before work comes.
    env = {**os.environ, **cluster.node_env()}
    subprocess.run(cmd, check=True, capture_output=True, timeout=120, env=env)
    import ray

    address = f"127.0.0.1:{gcs_port}"
    ray.init(address=address, logging_level="WARNING")
    try:
        yield {
            "address": address,
            "dashboard": f"http://127.0.0.1:{dash_port}",
            "temp_dir": ray_tmp,
        }
    finally:
        ray.shutdown()
        stop_cluster(ray_tmp, gcs_port=gcs_port)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def stop_cluster(temp_dir: Path, grace: float = 10.0, *, gcs_port: int | None = None) -> None:
    """Stop the Ray processes started with ``temp_dir`` and no others (``ray stop``
    would stop every Ray cluster on the machine). Workers exit with their raylet.
    ``gcs_port``: also the head's client server, whose command line names the GCS
    address but not the temp dir (it is re-parented to init, not the head's child)."""
    table = proc_table()
    client = re.compile(
        rb"ray\.util\.client\.server\x00--address=[^\x00]*:%d\x00" % (gcs_port or 0)
    )
    named = {
        pid
        for pid, (_, cmdline) in table.items()
        if str(temp_dir).encode() in cmdline or (gcs_port and client.search(cmdline))
    }
    # Agents rename themselves (``ray::DashboardAgent``): take the children too.
    mine = sorted(cluster.with_descendants(named, table))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in mine:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in mine):
            time.sleep(0.2)


@pytest.fixture(scope="session")
def webvid_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two WebVid shards of 5 clips; one clip is random bytes named .mp4."""
    root = tmp_path_factory.mktemp("webvid")
    keys = synth.write_webvid(root, shards=2, per_shard=5, corrupt={"1000074"})
    assert "1000074" in keys
    return root


@pytest.fixture(scope="session")
def finevideo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("finevideo")
    synth.write_finevideo(root, files=2, per_file=3, qa_per_video=3)
    return root


@pytest.fixture(scope="session")
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"vidray-{secrets.token_hex(4)}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def upload_dir(local: Path, bucket: str, prefix: str) -> None:
    import boto3

    s3 = boto3.client("s3")
    for path in sorted(local.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")


def add_tar_member(
    tar: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE
) -> None:
    """Add a regular member, or (``kind`` SYMTYPE/LNKTYPE) a link pointing out of the tree."""
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        info.linkname = "../../etc/passwd"
        tar.addfile(info)


def session_processes(sid: int) -> list[str]:
    """The live processes of process session ``sid`` (a CLI started with
    ``start_new_session=True`` leads its own), as their command lines."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getsid(int(proc.name)) != sid:
                continue
            if proc_stat(proc.name)[0] == "Z":
                continue  # exited, only waiting to be reaped
            found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except (OSError, IndexError):
            continue
    return found


def wait_until_gone(sid: int, timeout: float = 10.0) -> list[str]:
    """Poll until session ``sid`` has no live process or ``timeout`` passes; what is left."""
    deadline = time.monotonic() + timeout
    while (left := session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left
