"""Run by test_faults in its own process: a three-node local cluster
(ray.cluster_utils.Cluster) converts the input with a worker node removed mid-run and
writes the output's golden list to report.json, for test_faults to compare with its
clean run (the output does not depend on the cluster: see
test_worker_count_does_not_change_output)."""

import json
import sys
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from tests.test_faults import golden, options
from vidray import sink
from vidray.io import storage
from vidray.pipeline import convert


def main(inp: Path, work: Path) -> None:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 200 * 2**20},
    )
    workers = [cluster.add_node(num_cpus=1, object_store_memory=200 * 2**20) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)

    def opts(out: Path):
        import dataclasses

        return dataclasses.replace(
            options(inp, out), num_workers=3, cpus_per_worker=0.5, progress=False
        )

    removed = []

    def remove_a_node() -> None:
        faulted = storage.location(str(work / "faulted"))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and sink.committed_count(faulted) < 4:
            time.sleep(0.02)
        from ray.util.state import list_actors

        busy = {
            a["node_id"]
            for a in list_actors(filters=[("state", "=", "ALIVE")], detail=True)
            if "ConvertStage" in a["class_name"]
        }
        # the worker node that runs decode actors (the head keeps the driver)
        victim = next((w for w in workers if w.node_id in busy), workers[0])
        cluster.remove_node(victim, allow_graceful=False)
        removed.append(sink.committed_count(faulted))
        removed.append(victim.node_id in busy)

    remover = threading.Thread(target=remove_a_node)
    remover.start()
    convert(opts(work / "faulted"))
    remover.join()
    # A file, not stdout: Ray forwards worker and raylet log lines to the driver's stdout.
    report = {
        "faulted": golden(work / "faulted"),
        "committed_at_removal": removed,
    }
    (work / "report.json").write_text(json.dumps(report))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
