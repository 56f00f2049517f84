"""The run: the only place that knows the order of the stages.

    plan (driver, ``vidray.plan``: checks, shards, committed units)
      -> read (one Ray task per shard, streaming work units: ``vidray.read``)
      -> convert (Ray Data tasks on kept workers: decode, sample, JPEG, write each unit:
         ``vidray.stage``)
      -> commit (driver: ``_SUCCESS`` last, ``vidray.sink``)

Here: Ray set-up, the pool's size, progress and the summary.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from vidray import __version__, cluster, read, records, sink, sources
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.plan import ConvertError, Job, build_source, plan_shards, planned_total, prepare
from vidray.progress import Progress, make_progress
from vidray.read import Plan
from vidray.sources.base import AnnotationSource
from vidray.stage import StageConfig, convert_batch

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


@dataclass
class Summary:
    output: str
    samples: int = 0
    rows: int = 0
    frames: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    units: int = 0
    #: Units an earlier run of the same command had committed (not redone).
    resumed_units: int = 0
    elapsed_s: float = 0.0
    #: Seconds until the first unit was done: start-up (worker processes, imports) plus one unit.
    first_unit_s: float = 0.0
    first_unit_samples: int = 0
    #: Units whose shard's last unit is done: ``shards_done`` of ``shards`` are finished.
    shards: int = 0
    shards_done: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)
    #: Annotation-type files in INPUT that the source does not read (not silently lost).
    skipped_files: list[str] = field(default_factory=list)
    #: OUTPUT was already complete for this command: nothing ran, counts are its marker's.
    already_complete: bool = False
    #: Samples by the decoder that made their frames, and why samples went to the CPU
    #: when ``--decoder`` was not ``cpu``.
    decoders: dict[str, int] = field(default_factory=dict)
    cpu_reasons: dict[str, int] = field(default_factory=dict)
    #: Samples by the worker group (``cpu``, ``gpu``) whose tasks converted them.
    groups: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of_manifest(cls, output: str, manifest: dict[str, Any]) -> Summary:
        counts = manifest["counts"]
        return cls(
            output=output,
            samples=counts["samples"],
            rows=counts["rows"],
            frames=counts["frames"],
            errors=dict(counts["errors_by_reason"]),
            decoders=dict(counts.get("decoders", {})),
            cpu_reasons=dict(counts.get("cpu_reasons", {})),
            groups=dict(counts.get("groups", {})),
            units=counts["units"],
            manifest=manifest,
            skipped_files=manifest.get("skipped_files", {}).get("files", []),
            already_complete=True,
        )

    def count(self, totals: sink.Totals) -> None:
        """Take the counts of the units this run converted so far."""
        self.samples, self.rows, self.frames = totals.samples, totals.rows, totals.frames
        self.units = totals.units
        self.errors = dict(totals.errors)
        self.decoders = dict(totals.decoders)
        self.cpu_reasons = dict(totals.cpu_reasons)
        self.groups = dict(totals.groups)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def steady_samples_per_s(self) -> float:
        """Rate after the first unit, i.e. without the pipeline's start-up."""
        span = self.elapsed_s - self.first_unit_s
        rest = self.samples - self.first_unit_samples
        return rest / span if span > 0 and rest > 0 else self.samples_per_s

    def describe(self) -> str:
        # A resumed run counts the output in all (its commit's counts), its own share beside.
        whole = self
        if self.resumed_units and not self.already_complete and "counts" in self.manifest:
            whole = Summary.of_manifest(self.output, self.manifest)
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(whole.errors.items())) or "none"
        counts = f"{whole.samples} samples -> {whole.rows} rows"
        if whole is not self:
            counts += (
                f" in all ({self.samples} this run, {self.resumed_units} units committed earlier)"
            )
        counts += f", {whole.frames} frames, {whole.error_count} errors ({reasons})"
        skipped = ""
        if whole.cpu_reasons or set(whole.decoders) - {"cpu"}:
            by = ", ".join(f"{k}={v}" for k, v in sorted(whole.decoders.items()))
            why = ", ".join(f"{k}={v}" for k, v in sorted(whole.cpu_reasons.items()))
            counts += f"; decoded by {by}" + (f" (on the CPU: {why})" if why else "")
        if set(whole.groups) - {"cpu"}:
            on = ", ".join(f"{k}={v}" for k, v in sorted(whole.groups.items()))
            counts += f"; on {on} workers"
        if self.skipped_files:
            names = ", ".join(self.skipped_files[:3])
            more = ", ..." if len(self.skipped_files) > 3 else ""
            skipped = f"; {len(self.skipped_files)} annotation files not read ({names}{more})"
        if self.already_complete:
            return (
                f"already complete: {counts}, committed {self.manifest.get('committed_at')}"
                f"{skipped}; output: {self.output} (nothing to do; --overwrite redoes it)"
            )
        took = f"in {self.elapsed_s:.1f} s ({self.samples_per_s:.1f} clips/s)"
        took = f"; this run {took}" if whole is not self else f" {took}"
        return f"{counts}{took}{skipped}; output: {self.output}"


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
    ledger = job.committed
    plan, counted = plan_shards(source, inp, job.shards, opts.limit, ledger, job.retry)
    total = planned_total(source, inp, plan, ledger, counted, job.retry)
    ledger.expect(job.retry)

    try:
        cluster.connect(opts.ray_address)  # no-op when the caller connected already
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
    units_left = None if total is None else math.ceil((total - done) / opts.samples_per_file)
    pools = _pools(opts, float(resources.get("CPU", 1)), float(resources.get("GPU", 0)), units_left)
    workers = sum(p.workers for p in pools)

    # The first write of the run: every check passed and Ray is up.
    sink.begin(out, opts.recorded(), ledger, overwrite=opts.overwrite)
    started = time.monotonic()
    resumed = ledger.units - sum(len(units) for units in job.retry.values())
    summary = Summary(output=out.display(), resumed_units=resumed, shards=len(plan))
    summary.skipped_files = job.skipped
    if progress is None:
        progress = make_progress(opts.progress, sys.stderr)
    progress.start(total, done)
    stage = StageConfig.from_options(opts, out.uri, source, inp.uri)
    try:
        _run(opts, inp.uri, source, stage, plan, pools, summary, started, progress, ledger)
    finally:
        progress.close()
    summary.elapsed_s = time.monotonic() - started
    info = {
        "source": opts.source,
        "options": opts.recorded(),
        "versions": _versions(),
        "inputs": job.inputs,
        "elapsed_s": round(summary.elapsed_s, 3),
        "workers": workers,
        "skipped_files": {"count": len(job.skipped), "files": job.skipped},
        "layout": opts.layout,
        "split": stage.split,
    }
    summary.manifest = sink.commit(out, ledger, info)
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
    opts: ConvertOptions, cluster_cpus: float, cluster_gpus: float, units_left: int | None
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


def _gpus_per_task(opts: ConvertOptions, cluster_gpus: float, workers: int) -> float:
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
    opts: ConvertOptions,
    input_uri: str,
    source: sources.Source,
    stage: StageConfig,
    plan: Plan,
    pools: list[Pool],
    summary: Summary,
    started: float,
    progress: Progress,
    ledger: sink.Ledger,
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
    if isinstance(source, AnnotationSource) and len(plan) > 1:
        index = source.video_index(storage.location(input_uri))
    index_ref = None if index is None else ray.put(index)
    branches = []
    for pool, part in zip(pools, deal(plan, pools), strict=True):
        if not part:
            continue
        ds = ray.data.read_datasource(
            read.datasource(
                opts.source, source.ctx, input_uri, part, opts.samples_per_file, index_ref
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
    this_run = sink.Totals()
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
