"""Faults injected into real runs; every run must end with the clean run's output.

The golden-output method: a clean run's sorted (id, sha256 of the row) list is what a
faulted run must end with, with no file more and none missing.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import session_processes, wait_until_gone
from vidray import output as vout
from vidray import synth
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.media.sampling import SamplingPolicy
from vidray.pipeline import convert


def golden(out: Path) -> list[tuple[str, str]]:
    rows = vout.read_output(str(out)).to_pylist()
    errors = vout.read_output(str(out), "errors").to_pylist()
    return sorted(
        (r["id"], hashlib.sha256(json.dumps(r, default=bytes.hex).encode()).hexdigest())
        for r in rows + errors
    )


@pytest.fixture(scope="module")
def slow_webvid(tmp_path_factory) -> Path:
    """Enough work that a run can be interrupted half-way."""
    root = tmp_path_factory.mktemp("slow-webvid")
    spec = synth.VideoSpec(num_frames=150, fps=10, width=160, height=96, gop=15)
    synth.write_webvid(root, shards=3, per_shard=12, spec=spec, corrupt={"1000148"})
    return root


ARGS = ["--samples-per-file", "1", "--fps", "10", "--max-frames", "150", "--size", "64"]


def options(inp: Path, out: Path) -> ConvertOptions:
    return ConvertOptions.of(
        source="webvid",
        input=str(inp),
        output=str(out),
        sampling=SamplingPolicy(mode="fps", fps=10.0, max_frames=150),
        size=64,
        samples_per_file=1,
        progress=False,
    )


@pytest.fixture(scope="module")
def clean(ray_head, slow_webvid, tmp_path_factory) -> tuple[Path, list[tuple[str, str]]]:
    """A clean run of ``options``: its OUTPUT and golden list."""
    out = tmp_path_factory.mktemp("clean") / "out"
    summary = convert(options(slow_webvid, out))
    assert summary.samples == 36 and summary.errors == {"decode_error": 1}
    return out, golden(out)


def start_cli(inp: Path, out: Path, *extra: str) -> subprocess.Popen:
    """``vidray convert`` as a user starts it from a shell: its own process group and
    session (so it can be told apart from the test's processes), no RAY_ADDRESS."""
    cmd = [sys.executable, "-m", "vidray", "convert", "webvid", str(inp), str(out), *ARGS]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return subprocess.Popen(
        [*cmd, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env=env,
    )  # fmt: skip


def committed(out: Path) -> int:
    """Units committed so far, as the CLI counts them (shard manifests and ``__units/``)."""
    return vout.committed_count(storage.location(str(out)))


def wait_for_units(out: Path, n: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 180
    while committed(out) < n:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)


def assert_interrupted(proc: subprocess.Popen, out: Path) -> int:
    """Exit 130 with the one line that says how far the run got; the count it gives."""
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-3000:]
    units = committed(out)
    assert stderr == (
        f"vidray: interrupted: {units} units committed; run the same command again to resume\n"
    )
    assert stdout == ""
    return units


def test_ctrl_c_mid_run_stops_the_local_instance_and_the_rerun_resumes(
    clean, slow_webvid, tmp_path
):
    out = tmp_path / "out"
    proc = start_cli(slow_webvid, out)  # no --ray-address: it starts a local instance
    wait_for_units(out, 2, proc)
    assert len(session_processes(proc.pid)) > 3  # the instance: GCS, raylet, agents, workers
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    units = assert_interrupted(proc, out)
    assert 2 <= units < 36, "not interrupted half-way"
    assert wait_until_gone(proc.pid) == []  # within 10 s, agents included
    assert not (out / vout.MARKER).exists()
    resumed = convert(options(slow_webvid, out))
    assert resumed.resumed_units >= units
    assert golden(out) == clean[1]


def test_ctrl_c_during_start_up_leaves_nothing(slow_webvid, tmp_path):
    out = tmp_path / "out"
    proc = start_cli(slow_webvid, out)
    # Interrupt once the local instance is starting (its first server process is up),
    # however long the imports took on a loaded machine.
    deadline = time.monotonic() + 60
    while not any("gcs_server" in p for p in session_processes(proc.pid)):
        assert proc.poll() is None and time.monotonic() < deadline, "Ray never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # to the CLI alone
    assert assert_interrupted(proc, out) == 0
    assert wait_until_gone(proc.pid) == []
    assert not out.exists()  # nothing was written before Ray was up


def running_convert_tasks(dashboard: str) -> list[dict]:
    """The convert tasks running on the session cluster now, with their job and the pid
    of the Ray worker process that runs each."""
    from ray.util.state import list_tasks

    running = list_tasks(dashboard, filters=[("state", "=", "RUNNING")], detail=True)
    return [t for t in running if "convert_batch" in t["name"] and t.get("worker_pid")]


def test_ctrl_c_on_a_cluster_releases_the_workers_and_keeps_the_cluster(
    ray_head, slow_webvid, tmp_path
):
    import ray

    mine = ray.get_runtime_context().get_job_id()
    out = tmp_path / "out"
    proc = start_cli(slow_webvid, out, "--ray-address", ray_head["address"])
    wait_for_units(out, 2, proc)
    # Task states reach the state API from each worker's event buffer about once a
    # second, so a task that has just started may not be listed yet: ask until it is.
    workers: set[int] = set()
    deadline = time.monotonic() + 30
    while not workers and committed(out) < 30 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        tasks = running_convert_tasks(ray_head["dashboard"])
        workers = {t["worker_pid"] for t in tasks if t["job_id"] != mine}
        time.sleep(0.2)
    assert workers, "the CLI's convert tasks should be running"
    os.killpg(proc.pid, signal.SIGINT)
    assert 2 <= assert_interrupted(proc, out) < 36
    # The job's worker processes (and their decoder processes) go with it.
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    # (The state API may list their tasks as running a while longer: processes are what
    # hold the cluster's CPUs.)
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []
    ray.get(ray.put(1))  # the cluster is still there (resuming is tested above)


def test_driver_killed_then_rerun_gives_the_clean_output(ray_head, clean, slow_webvid, tmp_path):
    clean_out, expected = clean
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vidray", "convert", "webvid", str(slow_webvid), str(out)]
    driver = subprocess.Popen(
        [*cmd, *ARGS, "--ray-address", ray_head["address"], "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and committed(out) < 4:
        time.sleep(0.02)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    units = set(vout.committed_units(storage.location(str(out))))
    assert 4 <= len(units) < 36, "the run was not interrupted half-way"
    # A reader listing the output sees committed units only, never a partial file.
    listed = {p.relative_to(out).as_posix() for p in (out / "data").glob("*")}
    assert listed <= {vout.data_file_name(u, "train") for u in units}
    assert {p.stem for p in (out / vout.ERRORS_DIR).glob("*")} <= units
    assert not (out / vout.MARKER).exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "data").glob("*.parquet")}

    resumed = convert(options(slow_webvid, out))
    assert resumed.resumed_units >= len(units)
    assert golden(out) == expected
    # committed files were not rewritten
    for name, stamp in stamps.items():
        assert (out / "data" / name).stat().st_mtime_ns == stamp
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    clean_files = sorted(p.relative_to(clean_out).as_posix()
                         for p in clean_out.rglob("*.parquet"))  # fmt: skip
    assert files == clean_files


def test_decode_worker_killed_mid_run(ray_head, clean, slow_webvid, tmp_path):
    import threading

    expected = clean[1]

    out = tmp_path / "out"
    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and committed(out) < 3:
            time.sleep(0.02)
        while time.monotonic() < deadline:
            for task in running_convert_tasks(
                ray_head["dashboard"]
            ):  # a worker process busy with a unit
                os.kill(task["worker_pid"], signal.SIGKILL)
                killed.append(committed(out))
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    summary = convert(options(slow_webvid, out))
    killer.join()
    assert killed and killed[0] < 36, "no decode worker was killed mid-run"
    assert committed(out) == 36
    assert summary.samples == 36  # each unit reported once, the retried one included
    assert golden(out) == expected


def test_retry_failed_redoes_only_the_failures(ray_head, slow_webvid, tmp_path):
    import tarfile

    from tests.helpers.flaky_child import FLAKY_LIST

    convert(options(slow_webvid, tmp_path / "clean").replace(samples_per_file=4))
    expected = golden(tmp_path / "clean")

    # two good videos of different units fail on the first run
    with tarfile.open(slow_webvid / "00000001.tar") as tar:
        blobs = [tar.extractfile(m).read() for m in tar.getmembers() if m.name.endswith(".mp4")]
    FLAKY_LIST.write_text("\n".join(hashlib.sha256(b).hexdigest() for b in (blobs[1], blobs[6])))
    out = tmp_path / "out"
    opts = options(slow_webvid, out).replace(
        samples_per_file=4,
        decoder_module="tests.helpers.flaky_child",
        decode_attempts=1,
    )
    try:
        first = convert(opts)
        assert first.errors == {"decode_crash": 2, "decode_error": 1}
        flaky = {vout.data_file_name(f"00000001-0000{i}", "train") for i in range(10)}
        untouched = {
            p.name: p.stat().st_mtime_ns
            for p in (out / "data").glob("*.parquet")
            if f"data/{p.name}" not in flaky
        }
        FLAKY_LIST.write_text("")  # the fault is fixed
        retried = convert(opts.replace(retry_failed=True))
    finally:
        FLAKY_LIST.unlink(missing_ok=True)
    # only units with errors were redone: the two flaky ones and the corrupt one's
    assert retried.units == 3
    assert retried.errors == {"decode_error": 1}
    assert golden(out) == expected
    for name, stamp in untouched.items():
        # the corrupt sample's unit, redone too
        if f"data/{name}" != vout.data_file_name("00000000-00001", "train"):
            assert (out / "data" / name).stat().st_mtime_ns == stamp
    # same bytes as the clean run, file by file
    for p in sorted((tmp_path / "clean" / "data").glob("*.parquet")):
        assert pq.read_table(out / "data" / p.name).equals(pq.read_table(p))


def own_cluster_report(module: str, inp: Path, work: Path) -> dict:
    """Run ``python -m tests.<module> INPUT WORK`` (a script that starts a cluster of its
    own) and return the report.json it writes into WORK."""
    res = subprocess.run(
        [sys.executable, "-m", f"tests.{module}", str(inp), str(work)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((work / "report.json").read_text())


# A node lost mid-run (a spot loss on an autoscaling cluster) is tested where the
# autoscaler terminates a busy worker through its node provider: tests/cluster/test_autoscaling.py.
