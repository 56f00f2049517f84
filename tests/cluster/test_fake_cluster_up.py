"""The cluster launcher path: ``ray up`` starts cluster/fake-multinode.yaml (its head on
a private port and temp dir), a requested resource makes the autoscaler add a worker
node, and ``ray down`` stops the cluster's processes and no others (never ``ray stop``,
which stops every Ray instance on the machine). tests/cluster/test_autoscaling.py runs the same
config's autoscaling under a conversion, its head started by hand."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import ray
import yaml
from ray.autoscaler._private.fake_multi_node.node_provider import FAKE_HEAD_NODE_ID

from tests.conftest import BIN, free_port, stop_cluster
from vidray.fake_provider import cluster_processes

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "cluster/fake-multinode.yaml"

#: Run on the cluster (the test's process may be joined to the session's head): the head,
#: then a worker added for a requested CPU (the head has none), as JSON.
DRIVER = """
import json, sys, time, ray
from ray.autoscaler.sdk import request_resources
ray.init(address=sys.argv[1], logging_level="ERROR")
def nodes():
    return [n for n in ray.nodes() if n["Alive"]]
(head,) = [n for n in nodes() if "node:__internal_head__" in n["Resources"]]
t0 = time.monotonic()
request_resources(bundles=[{"CPU": 1}])
worker = None
while worker is None and time.monotonic() - t0 < 40:
    worker = next((n for n in nodes() if n["Resources"].get("CPU") == 1), None)
    time.sleep(0.2)
up_s = round(time.monotonic() - t0, 2)
request_resources(bundles=[])
print(json.dumps({"head": head, "worker": worker, "worker_up_s": up_s}))
"""


def launcher(verb: str, path: Path, env: dict, log: Path) -> float:
    """``ray up``/``ray down`` on the config, its output in ``log``; seconds taken."""
    started = time.monotonic()
    with log.open("w") as out:
        res = subprocess.run(
            [str(BIN / "ray"), verb, "-y", str(path)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    assert res.returncode == 0, log.read_text()[-3000:]
    return time.monotonic() - started


def test_ray_up_starts_the_fake_cluster_and_its_autoscaler_adds_a_worker(tmp_path):
    port = free_port()
    address = f"{ray.util.get_node_ip_address()}:{port}"
    config = yaml.safe_load(CONFIG.read_text())
    # A private GCS port (the provider's workers join it) and temp dir (short: Ray's
    # socket paths), the config's own head command otherwise.
    config["provider"]["gcs_address"] = address
    path = tmp_path / "fake-multinode.yaml"
    temp_dir = Path("/tmp") / f"vidray-up-{os.getpid()}"
    (command,) = config["head_start_ray_commands"]
    assert (
        "--port=6379" in command and "--autoscaling-config=cluster/fake-multinode.yaml" in command
    )
    command = command.replace("--port=6379", f"--port={port}").replace(
        "--autoscaling-config=cluster/fake-multinode.yaml", f"--autoscaling-config={path}"
    )
    config["head_start_ray_commands"] = [
        f"{command} --temp-dir={temp_dir} --include-dashboard=false --disable-usage-stats"
    ]
    path.write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "RAY_FAKE_CLUSTER": "1",  # the provider refuses to run without it
        "PATH": f"{BIN}:{os.environ['PATH']}",  # the head command's `ray`
        "TMPDIR": str(tmp_path),  # the launcher's config cache
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    times = {}
    try:
        times["up"] = launcher("up", path, env, tmp_path / "up.log")
        res = subprocess.run(
            [sys.executable, "-c", DRIVER, address],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
        )
        assert res.returncode == 0, res.stderr[-3000:]
        seen = json.loads(res.stdout.strip().splitlines()[-1])
        assert cluster_processes(address)
    finally:
        try:
            times["down"] = launcher("down", path, env, tmp_path / "down.log")
        finally:
            leftover = cluster_processes(address)
            stop_cluster(temp_dir)  # whatever ray down left, by pid
            shutil.rmtree(temp_dir, ignore_errors=True)
    print(f"ray up {times['up']:.1f} s, worker up {seen['worker_up_s']} s, "
          f"ray down {times['down']:.1f} s")  # fmt: skip
    # the head ray up started: the fake provider's head, with no CPU for decode work
    assert seen["head"]["NodeID"] == FAKE_HEAD_NODE_ID
    assert seen["head"]["Resources"].get("CPU", 0) == 0
    # the requested CPU made the autoscaler add a cpu_worker node (1 CPU, not the head's 0)
    worker = seen["worker"]
    assert worker is not None, seen
    assert worker["NodeID"] != FAKE_HEAD_NODE_ID and worker["Resources"]["CPU"] == 1
    assert worker["Labels"]["ray.io/node-group"] == "cpu_worker", worker  # not the head's
    # ray down stopped every process of the cluster, the workers' too
    assert leftover == [], leftover
    assert "not running 'ray stop'" in (tmp_path / "down.log").read_text()
