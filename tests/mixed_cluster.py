"""Run by test_gpu in its own process: a local cluster (ray.cluster_utils.Cluster) of a
head that declares one GPU and a CPU node converts the input with
``--decoder auto`` and writes its golden list and counts to report.json. The GPU is
declared, not real: the GPU pool's tasks hold it (Ray gives it the GPU id), and its
small videos go to the CPU decoder by the cost model, so its rows equal a CPU run's."""

import dataclasses
import json
import sys
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from tests.test_faults import golden
from tests.test_gpu import mixed_options
from vidray.pipeline import convert


def main(inp: Path, work: Path) -> None:
    store = {"object_store_memory": 200 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 1, **store})
    gpu_node = cluster.head_node
    cluster.add_node(num_cpus=1, **store)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    out = work / "mixed"
    summary = convert(dataclasses.replace(mixed_options(inp, out), decoder="auto"))
    from ray.util.state import list_tasks

    # where the tasks that reserved a GPU ran
    nodes = sorted(
        {
            "gpu" if t["node_id"] == gpu_node.node_id else "cpu"
            for t in list_tasks(cluster.address, detail=True, limit=10_000)
            if "convert_batch" in t["name"] and t.get("required_resources", {}).get("GPU")
        }
    )
    # A file, not stdout: Ray forwards worker and raylet log lines to the driver's stdout.
    report = {
        "golden": golden(out),
        "groups": summary.groups,
        "cpu_reasons": summary.cpu_reasons,
        "gpu_task_nodes": nodes,
        "marker_groups": json.loads((out / "_SUCCESS").read_text())["counts"]["groups"],
    }
    (work / "report.json").write_text(json.dumps(report))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
