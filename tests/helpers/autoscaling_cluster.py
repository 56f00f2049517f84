"""Run by test_autoscaling in its own process (the test's process is joined to the
session's Ray head already): Ray's fake multi-node autoscaling cluster, as
cluster/fake-multinode.yaml defines it and started with that file's own head command,
runs the documented autoscaling command once, and this watches its nodes come and go:

- from a head with no CPU, the pending convert tasks (and read tasks) make the
  autoscaler add the CPU and GPU worker nodes;
- once some units are committed and a CPU node runs a decode worker, one CPU worker is
  terminated through the node provider, as a spot instance is reclaimed: the config's
  max_workers for cpu_worker, lowered by one, makes the autoscaler terminate one at
  once however busy (FakeMultiNodeProvider.terminate_node stops its raylet and
  workers); back at 2 once it is gone, so that the autoscaler may replace it;
- the run done, the idle workers must go within the config's idle timeout.

One run, not a clean one and then a faulted one: each run costs its workers' start-up
(most of its time on 2 cores), and the suite's time is short. The output of the one run
must equal a clean local run's, loss and all.

``ray.cluster_utils.AutoscalingCluster`` sets up the same (this provider, a config like
this one, AUTOSCALER_UPDATE_INTERVAL_S=1 and RAY_FAKE_CLUSTER=1) but is not used as it
is: its ``start`` and ``shutdown`` run ``ray stop --force``, which stops every Ray
instance on the machine (the session's head and other users' too), and its constructor
reads fake_multi_node/example.yaml, which Ray 2.60's wheel lacks.

Writes report.json into WORK: the run's golden list and counts, the node timeline
(seconds from the run's start) and the spot-loss record.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import ray
import yaml

from tests.cluster.test_faults import golden
from tests.conftest import free_port, proc_table, stop_cluster
from vidray import cli
from vidray import output as vout
from vidray.pipeline import convert

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "cluster/fake-multinode.yaml"

#: The conversion (as test_faults' ARGS: one sample a unit, every frame at 10 fps), on
#: the small input test_autoscaling writes: 36 units of 60 frames.
ARGS = ["--samples-per-file", "1", "--fps", "10", "--max-frames", "60", "--size", "64"]

#: The documented autoscaling command (README, "On a cluster"; cluster/README.md), sized
#: to the fake nodes: one CPU worker per 1-CPU node with 0.1 CPU left for a read task,
#: and one GPU worker on the GPU node.
AUTOSCALING = ["--decoder", "auto", "--num-workers", "2", "--cpus-per-worker", "0.9",
               "--gpus-per-worker", "1", "--gpu-workers", "1"]  # fmt: skip

#: Units committed before a node is reclaimed (of 36: the run is part-way).
UNITS_BEFORE_LOSS = 3
#: Units after which any CPU node is reclaimed, busy or not. Ray Data sometimes keeps
#: the CPU pool's convert tasks on the GPU node's spare CPU for the whole run, the CPU
#: node running read tasks only (seen in about half the runs on 2 cores).
UNITS_BEFORE_ANY_LOSS = 12


class Timeline:
    """Polls ``ray.nodes()`` in a thread: when each worker node was first seen alive and
    when it was seen dead or gone, in seconds from ``t0``, and its type."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.nodes: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(0.2)

    def sample(self) -> None:
        now = round(time.monotonic() - self.t0, 2)
        seen = set()
        for n in ray.nodes():
            if "node:__internal_head__" in n["Resources"]:
                continue  # the head (never added or removed)
            seen.add(n["NodeID"])
            rec = self.nodes.setdefault(
                n["NodeID"],
                {"type": "gpu" if n["Resources"].get("GPU") else "cpu", "up": None, "down": None},
            )
            if n["Alive"] and rec["up"] is None:
                rec["up"] = now
            if not n["Alive"] and rec["down"] is None:
                rec["down"] = now
        for node_id, rec in self.nodes.items():
            if node_id not in seen and rec["down"] is None:
                rec["down"] = now

    def alive(self, kind: str | None = None) -> list[str]:
        return [
            i
            for i, r in self.nodes.items()
            if r["up"] is not None and r["down"] is None and kind in (None, r["type"])
        ]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def start_head(work: Path, config: dict) -> tuple[str, Path, Path]:
    """Start the head with the config's own head command, on a free port and a temp dir
    of its own; its (address, temp dir, autoscaling config path)."""
    port = free_port()
    ip = ray.util.get_node_ip_address()
    # The provider starts the worker raylets against gcs_address (default port 6379,
    # which another Ray on this machine may hold).
    config["provider"]["gcs_address"] = f"{ip}:{port}"
    path = work / "fake-multinode.yaml"
    path.write_text(yaml.safe_dump(config))
    (command,) = config["head_start_ray_commands"]
    words = shlex.split(command)
    env = dict(os.environ)
    while "=" in words[0]:
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    assert words[:3] == ["ray", "start", "--head"], words
    words = [w.replace("--port=6379", f"--port={port}") for w in words]
    words = [f"--autoscaling-config={path}" if w.startswith("--autoscaling-") else w for w in words]
    temp_dir = Path("/tmp") / f"vidray-as-{os.getpid()}"
    cmd = [str(Path(sys.executable).parent / "ray"), *words[1:], f"--temp-dir={temp_dir}",
           "--include-dashboard=false", "--disable-usage-stats"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120, env=env, cwd=REPO)
    return f"{ip}:{port}", temp_dir, path


def convert_with_the_documented_command(inp: Path, out: Path) -> dict[str, Any]:
    """The documented command, parsed by vidray's own CLI parser, run on the cluster this
    process joined; the summary's counts."""
    args = cli.build_parser().parse_args(
        ["convert", "webvid", str(inp), str(out), *ARGS, *AUTOSCALING, "--quiet"]
    )
    started = time.monotonic()
    summary = convert(cli.options_from_args(args))
    return {
        "golden": golden(out),
        "samples": summary.samples,
        "groups": summary.groups,
        "cpu_reasons": summary.cpu_reasons,
        "marker_groups": json.loads((out / "_SUCCESS").read_text())["counts"]["groups"],
        "elapsed_s": round(time.monotonic() - started, 2),
    }


def decode_worker_nodes() -> dict[str, int]:
    """Decode workers per node id: the Ray worker processes that run a decoder process
    (``python -m vidray.media.isolate``). Every fake node is a raylet on this machine
    whose command line names its node (``--node_id=``), and its workers are its children
    (no dashboard on this cluster for the state API)."""
    table = proc_table()
    nodes = {}
    for pid, (_, cmdline) in table.items():
        for arg in cmdline.split(b"\0"):
            if arg.startswith(b"--node_id="):
                nodes[pid] = arg.removeprefix(b"--node_id=").decode()
    found: dict[str, int] = {}
    for _, (worker, cmdline) in table.items():
        if b"vidray.media.isolate" in cmdline:
            node = nodes.get(table.get(worker, (0, b""))[0])
            if node is not None:
                found[node] = found.get(node, 0) + 1
    return found


def reclaim_a_cpu_node(
    out: Path, path: Path, config: dict, timeline: Timeline, t0: float, done: threading.Event
) -> dict:
    """Spot loss through the provider, once UNITS_BEFORE_LOSS units are committed and a
    CPU worker runs a decode worker (or any CPU worker once UNITS_BEFORE_ANY_LOSS are):
    the cpu_worker type's max_workers lowered by one
    makes the autoscaler terminate a CPU worker (FakeMultiNodeProvider.terminate_node
    stops its raylet and workers) however busy; back to 2 once it is gone, so that the
    autoscaler may replace it as after a spot loss. Gives up when the run ends first."""
    units = out / vout.UNITS_DIR
    types = config["available_node_types"]
    while not done.is_set():
        before = set(timeline.alive("cpu"))
        busy = decode_worker_nodes()
        committed = len(list(units.glob("*.json")))
        if committed >= UNITS_BEFORE_LOSS and any(busy.get(n) for n in before):
            break
        if committed >= UNITS_BEFORE_ANY_LOSS and before:
            break
        time.sleep(0.1)
    else:
        return {"victims": 0, "committed": None}
    types["cpu_worker"]["max_workers"] = len(before) - 1
    path.write_text(yaml.safe_dump(config))  # the autoscaler reads it every update (1 s)
    at = time.monotonic()
    while not (before - set(timeline.alive("cpu"))) and not done.is_set():
        time.sleep(0.05)
    victims = sorted(before - set(timeline.alive("cpu")))
    record = {
        "committed": len(list(units.glob("*.json"))),
        "victims": len(victims),
        "victim_had_decode_workers": sum(busy.get(v, 0) for v in victims),
        "cpu_nodes_before": len(before),
        "seconds_to_terminate": round(time.monotonic() - at, 2),
        "at_s": round(time.monotonic() - t0, 2),
    }
    types["cpu_worker"]["max_workers"] = 2
    path.write_text(yaml.safe_dump(config))
    return record


def main(inp: Path, work: Path) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    address, temp_dir, path = start_head(work, config)
    try:
        ray.init(address=address, logging_level="WARNING")
        t0 = time.monotonic()
        timeline = Timeline(t0)
        report: dict[str, Any] = {"idle_timeout_s": 60 * config["idle_timeout_minutes"]}
        loss: dict[str, Any] = {}
        done = threading.Event()

        def lose() -> None:
            loss.update(reclaim_a_cpu_node(work / "out", path, config, timeline, t0, done))

        spot = threading.Thread(target=lose)
        spot.start()
        try:
            report["run"] = convert_with_the_documented_command(inp, work / "out")
        finally:
            end = time.monotonic()
            done.set()
            spot.join()
        report["spot_loss"] = loss
        report["end_s"] = round(end - t0, 2)
        # Idle now: every worker must go within the idle timeout (plus a margin the test
        # states); wait longer than that, so that a slow removal is measured, not cut.
        while timeline.alive() and time.monotonic() - end < report["idle_timeout_s"] + 30:
            time.sleep(0.2)
        timeline.stop()
        timeline.sample()
        report["all_gone_after_s"] = None if timeline.alive() else round(time.monotonic() - end, 2)
        report["nodes"] = timeline.nodes
        # A file, not stdout: Ray forwards worker and raylet log lines to the driver's stdout.
        (work / "report.json").write_text(json.dumps(report, indent=1))
    finally:
        ray.shutdown()
        stop_cluster(temp_dir, gcs_port=int(address.rpartition(":")[2]))
        shutil.rmtree(temp_dir, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
