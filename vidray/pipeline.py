"""The run: the only place that knows the order of the stages.

    plan (driver, ``vidray.plan``: checks, shards, committed units)
      -> read (one Ray task per shard, streaming work units: ``vidray.read``)
      -> convert (Ray Data tasks on kept workers: decode, sample, JPEG, write each unit:
         ``vidray.stage``)
      -> commit (driver: ``_SUCCESS`` last, ``vidray.output``)

Here: Ray set-up, the pool's size, progress and the summary.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass

from vidray import __version__, cluster, output, read, records, sources
from vidray.config import ConvertOptions, RunOptions
from vidray.io import storage
from vidray.plan import ConvertError, Job, build_source, prepare
from vidray.progress import Progress, make_progress
from vidray.read import Plan
from vidray.stage import StageConfig, convert_batch
from vidray.summary import Summary

__all__ = ["ConvertError", "Job", "Summary", "build_source", "convert", "prepare", "run"]

#: Target Ray Data block size: below a typical unit, so each unit is a block of its own.
UNIT_BLOCK_BYTES = 2**20
#: CPU share reserved by a read task: reads mostly wait on storage.
READ_CPUS = 0.1
#: Decode workers fed by one read task at a time.
DECODE_PER_READ = 4
#: At most this share of the cluster's CPUs goes to convert tasks, so read tasks
#: always find room (a 2-CPU laptop with two 1-CPU convert tasks would stall).
DECODE_SHARE = 0.8


def _versions() -> dict[str, str]:
    import av
    import pyarrow
    import ray

    return {
        "vidray": __version__,
        "ray": ray.__version__,
        "pyarrow": pyarrow.__version__,
        "av": av.__version__,
    }


def convert(opts: ConvertOptions, progress: Progress | None = None) -> Summary:
    """Run one conversion to completion and commit it, on the cluster this process
    joined, else ``ray_address``, else a new local instance. Raises ``ConvertError``
    for problems found before any work starts. An OUTPUT already complete for this
    command is returned as it is."""
    return run(prepare(opts), progress)


def run(job: Job, progress: Progress | None = None) -> Summary:
    """Convert what ``job`` has left to do, then commit: ``_SUCCESS`` last. A job whose
    OUTPUT is already complete returns that output's summary and runs nothing."""
    if job.complete is not None:
        return Summary.of_manifest(job.out.display(), job.complete)
    import ray
    import ray.data

    opts, source, inp, out = job.opts, job.source, job.inp, job.out
    ledger, plan, total = job.committed, job.plan, job.total  # planned by ``prepare``
    ledger.expect(job.retry)

    try:
        cluster.connect(opts.run.ray_address)  # no-op when the caller connected already
    except cluster.Unreachable as e:
        raise ConvertError(str(e)) from None
    # vidray prints its own progress and summary; Ray Data's logs stay in its log files.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    # Blocks are cut between rows only, and a row is a unit: a small target gives one
    # block per unit, so units spread over the workers instead of queuing behind a block.
    ctx.target_max_block_size = UNIT_BLOCK_BYTES
    ctx.verbose_stats_logs = False
    resources = ray.cluster_resources()
    done = ledger.samples - job.retry_samples
    # No more workers than there are units left to keep them busy.
    units_left = None if total is None else math.ceil((total - done) / opts.out.samples_per_file)
    pools = _pools(
        opts.run, float(resources.get("CPU", 1)), float(resources.get("GPU", 0)), units_left
    )
    workers = sum(p.workers for p in pools)

    # The first write of the run: every check passed and Ray is up.
    output.begin(out, opts.recorded(), ledger, overwrite=opts.run.overwrite)
    started = time.monotonic()
    resumed = ledger.units - sum(len(units) for units in job.retry.values())
    summary = Summary(output=out.display(), resumed_units=resumed, shards=len(plan))
    summary.skipped_files = job.skipped
    if progress is None:
        progress = make_progress(opts.run.progress, sys.stderr)
    progress.start(total, done)
    stage = StageConfig.from_options(opts, out.uri, source, inp.uri)
    try:
        _run(inp.uri, source, stage, plan, pools, summary, started, progress, ledger)
    finally:
        progress.close()
    summary.elapsed_s = time.monotonic() - started
    info = {
        "source": opts.dataset.source,
        "options": opts.recorded(),
        "versions": _versions(),
        "inputs": job.inputs,
        "elapsed_s": round(summary.elapsed_s, 3),
        "workers": workers,
        "skipped_files": {"count": len(job.skipped), "files": job.skipped},
        "layout": opts.out.layout,
        "split": stage.file_split,
    }
    summary.manifest = output.commit(out, ledger, info)
    return summary


@dataclass(frozen=True)
class Pool:
    """One decode pool: its worker group (``cpu``, ``gpu``), its size (convert tasks at
    once) and what each task reserves."""

    group: str
    workers: int
    cpus: float
    gpus: float = 0.0


def _pools(
    opts: RunOptions, cluster_cpus: float, cluster_gpus: float, units_left: int | None
) -> list[Pool]:
    """The decode pools of a run. One pool, except ``--decoder auto`` where the cluster
    has GPUs (or ``--gpus-per-worker`` says GPU nodes will come): then a GPU pool of
    ``--gpu-workers`` workers next to a CPU pool, so both node groups work. By default
    the workers fit the CPUs present now; on an autoscaling cluster pass
    ``--cpus-per-worker`` so that pending tasks make the autoscaler add nodes."""
    n_gpu = 0
    if opts.decoder == "auto" and (cluster_gpus > 0 or opts.gpus_per_worker is not None):
        share = opts.gpus_per_worker or min(1.0, cluster_gpus)
        n_gpu = opts.gpu_workers or max(1, int(cluster_gpus / share + 1e-9))
        n_cpu = opts.num_workers or max(1, int(cluster_cpus) - n_gpu)
    else:
        n_cpu = opts.num_workers or max(1, int(cluster_cpus))
    if units_left is not None:
        n_gpu = min(n_gpu, max(1, units_left)) if n_gpu else 0
        n_cpu = min(n_cpu, max(0, units_left - n_gpu)) if n_gpu else min(n_cpu, max(1, units_left))
    cpus = opts.cpus_per_worker or min(1.0, DECODE_SHARE * cluster_cpus / (n_cpu + n_gpu))
    if n_gpu:
        gpu = Pool("gpu", n_gpu, cpus, share)
        return [gpu, Pool("cpu", n_cpu, cpus)] if n_cpu else [gpu]
    gpus = _gpus_per_task(opts, cluster_gpus, n_cpu)
    return [Pool("gpu" if gpus else "cpu", n_cpu, cpus, gpus)]


def deal(plan: Plan, pools: list[Pool]) -> list[Plan]:
    """Deal the shards of ``plan`` to ``pools`` in proportion to their workers, in plan
    order, each shard to the pool with the fewest shards per worker once it has it (the
    first pool on a tie); a pool can be left with none. Deterministic."""
    parts: list[Plan] = [[] for _ in pools]
    for shard in plan:
        k = min(range(len(pools)), key=lambda k: ((len(parts[k]) + 1) / pools[k].workers, k))
        parts[k].append(shard)
    return parts


def _gpus_per_task(opts: RunOptions, cluster_gpus: float, workers: int) -> float:
    """GPUs each convert task reserves. ``--decoder nvdec`` on a cluster without GPUs
    is refused (``--gpus-per-worker`` says GPU nodes will come: an autoscaling
    cluster whose GPU group starts at 0)."""
    if opts.decoder == "cpu":
        return 0.0
    if opts.gpus_per_worker is not None:
        return opts.gpus_per_worker
    if opts.decoder == "nvdec":
        if cluster_gpus <= 0:
            raise ConvertError(
                "--decoder nvdec: the cluster has no GPU; use --decoder auto or cpu, or pass "
                "--gpus-per-worker G where GPU nodes start on demand"
            )
        return min(1.0, cluster_gpus / workers)
    return 0.0


def _run(
    input_uri: str,
    source: sources.Source,
    stage: StageConfig,
    plan: Plan,
    pools: list[Pool],
    summary: Summary,
    started: float,
    progress: Progress,
    ledger: output.Ledger,
) -> None:
    """Execute the Ray Data pipeline over ``plan``, one branch per pool over the
    shards dealt to it, their results in one stream, each booked in ``ledger`` as it
    comes (a finished shard is compacted there): the driver keeps running counts, not
    the units' results."""
    import ray
    import ray.data

    if not plan:
        return
    # The videos root is listed here, once per job, not once per annotation file.
    index = None
    if len(plan) > 1:
        index = source.video_index(storage.location(input_uri))
    index_ref = None if index is None else ray.put(index)
    branches = []
    for pool, part in zip(pools, deal(plan, pools), strict=True):
        if not part:
            continue
        ds = ray.data.read_datasource(
            read.datasource(
                stage.source, source.ctx, input_uri, part, stage.out.samples_per_file, index_ref
            ),
            override_num_blocks=len(part),
            num_cpus=READ_CPUS,
            # A read task streams its shard as the convert tasks take its units, so it
            # holds a worker process (seconds of imports to start) for as long: one per
            # few decode workers keeps them fed (a unit is read in a fraction of the time
            # it takes to convert).
            concurrency=max(1, min(len(part), math.ceil(pool.workers / DECODE_PER_READ))),
        )
        branches.append(
            ds.map_batches(
                convert_batch,
                fn_kwargs={"cfg": stage},
                batch_size=1,
                batch_format="pyarrow",
                concurrency=pool.workers,
                num_cpus=pool.cpus,
                **({"num_gpus": pool.gpus} if pool.gpus else {}),
            )
        )
    results_ds = branches[0].union(*branches[1:]) if len(branches) > 1 else branches[0]
    this_run = output.Totals()
    for row in results_ds.iter_rows():
        r = records.result_from_row(row)
        ledger.add(r)
        this_run.add(r)
        summary.count(this_run)
        summary.shards_done += r.last
        if this_run.units == 1:
            summary.first_unit_s = time.monotonic() - started
            summary.first_unit_samples = r.samples
        progress.update(summary, r.samples)
