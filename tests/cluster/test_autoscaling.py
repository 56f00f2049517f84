"""Autoscaling for real: Ray's fake multi-node autoscaling cluster
(cluster/fake-multinode.yaml: a head with no CPU, a CPU worker type 0..2 and a
GPU-labelled type 0..1 with a declared GPU) runs the documented autoscaling command.
The autoscaler adds the nodes, the output is a clean local run's, a worker terminated
through the node provider mid-run (a spot loss) changes nothing in the output, and the
idle nodes go within the configured idle timeout. The GPU type's node runs vidray's GPU
pool next to the CPU pool; with a declared GPU it decodes on the CPU and says why.

One cluster, one helper process (tests/helpers/autoscaling_cluster.py: this process is joined
to the session's Ray head already), two conversions; the test below reads its report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.test_faults import golden, own_cluster_report
from tests.helpers.autoscaling_cluster import ARGS, UNITS_BEFORE_ANY_LOSS, UNITS_BEFORE_LOSS
from vidray import cli, synth
from vidray.pipeline import convert

#: Seconds allowed past the idle timeout for the autoscaler to notice (it updates every
#: second, AUTOSCALER_UPDATE_INTERVAL_S=1) and for the provider to stop the raylets.
SCALE_DOWN_MARGIN_S = 10.0


@pytest.fixture(scope="module")
def small_webvid(tmp_path_factory) -> Path:
    """36 clips of 60 frames in 3 shards (one for the GPU pool, two for the CPU pool),
    one corrupt: enough for a node to be lost part-way, small for 2 cores."""
    root = tmp_path_factory.mktemp("as-webvid")
    spec = synth.VideoSpec(num_frames=60, fps=10, width=160, height=96, gop=15)
    synth.write_webvid(root, shards=3, per_shard=12, spec=spec, corrupt={"1000148"})
    return root


@pytest.fixture(scope="module")
def report(small_webvid, tmp_path_factory) -> dict:
    return own_cluster_report(
        "helpers.autoscaling_cluster", small_webvid, tmp_path_factory.mktemp("as")
    )


@pytest.fixture(scope="module")
def clean(ray_head, small_webvid, tmp_path_factory) -> list[tuple[str, str]]:
    """A clean local run of the same conversion (no cluster flags) on the session head."""
    out = tmp_path_factory.mktemp("as-clean") / "out"
    args = cli.build_parser().parse_args(
        ["convert", "webvid", str(small_webvid), str(out), *ARGS, "--quiet"]
    )
    summary = convert(cli.options_from_args(args))
    assert summary.samples == 36 and summary.errors == {"decode_error": 1}
    return golden(out)


def test_pending_convert_tasks_make_the_autoscaler_add_nodes(report):
    nodes = report["nodes"]
    kinds = [r["type"] for r in sorted(nodes.values(), key=lambda r: r["up"])]
    # The run started on a head with no CPU: the autoscaler added the GPU node for the
    # GPU pool and CPU nodes for the CPU pool (one, where a CPU task took a CPU of the
    # GPU node first; two at most), and may have replaced the CPU node lost below.
    assert "gpu" in kinds and "cpu" in kinds, nodes
    assert kinds.count("gpu") == 1 and kinds.count("cpu") <= 3, nodes
    assert all(r["up"] < report["end_s"] for r in nodes.values()), nodes


def test_the_autoscaled_run_gives_the_clean_output(report, clean):
    # row for row, the spot loss below included
    assert [tuple(r) for r in report["run"]["golden"]] == clean


def test_idle_nodes_go_within_the_idle_timeout(report):
    nodes = report["nodes"]
    assert report["all_gone_after_s"] is not None, nodes
    assert report["all_gone_after_s"] <= report["idle_timeout_s"] + SCALE_DOWN_MARGIN_S
    assert all(r["down"] is not None for r in nodes.values()), nodes


def test_a_node_lost_mid_run_changes_nothing(report, clean):
    loss = report["spot_loss"]
    # One CPU node was terminated with the run part-way done: one running a decode
    # worker, unless none had come to one by UNITS_BEFORE_ANY_LOSS units.
    assert loss["victims"] == 1, loss
    if not loss["victim_had_decode_workers"]:
        assert loss["committed"] >= UNITS_BEFORE_ANY_LOSS, loss
    assert UNITS_BEFORE_LOSS <= loss["committed"] < 36, loss
    assert [tuple(r) for r in report["run"]["golden"]] == clean


def test_both_worker_groups_convert_on_the_autoscaled_cluster(report):
    """The mixed pools: the GPU pool (on the GPU node) and the CPU pool both convert;
    the GPU pool's small videos went to its CPU decoder, and it says why."""
    r = report["run"]
    # 3 shards dealt to a 1-worker GPU pool and a 2-worker CPU pool: 1 and 2 shards of
    # 12 samples (the corrupt one counts: its error row)
    assert r["groups"] == r["marker_groups"] == {"gpu": 12, "cpu": 24}
    assert r["cpu_reasons"] == {"cost_model": 12}
