"""The only place that knows the order of the stages.

    list shards -> read (one Ray task per shard, streaming units of samples)
                -> convert (actor pool: decode, sample, JPEG, write the unit's files)
                -> commit (driver: ``_SUCCESS`` last)

A unit is at most ``samples_per_file`` consecutive samples of one shard (and at most
``SAMPLE_BYTES_PER_FILE`` bytes of video). It travels as one row, so Ray Data never
splits it; it is converted by one actor call and becomes one data file plus one error
file, so file names never depend on how Ray Data scheduled the work.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import pyarrow as pa

from vidray import __version__, cluster, prompts, sink, sources
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.media import decode, isolate
from vidray.media.sampling import SamplingPolicy, select_frames, targets_for
from vidray.progress import Progress, make_progress
from vidray.sources.base import (
    IMAGE_SUFFIXES,
    AnnotationSource,
    BadInput,
    Conversation,
    Sample,
    SourceContext,
)

T = TypeVar("T")

#: A unit closes early once it holds this many bytes of video: bounds the memory of a
#: read task and of an actor call.
SAMPLE_BYTES_PER_FILE = 48 * 2**20
#: Target Ray Data block size: below a typical unit, so each unit is a block of its own.
UNIT_BLOCK_BYTES = 2**20
#: CPU share reserved by a read task: reads mostly wait on storage.
READ_CPUS = 0.1
#: At most this share of the cluster's CPUs goes to decode actors, so read tasks
#: always find room (a 2-CPU laptop with two 1-CPU actors would stall).
DECODE_SHARE = 0.8

SAMPLE_TYPE = pa.struct(
    [
        pa.field("sample", pa.string()),
        pa.field("video", pa.string()),
        pa.field("data", pa.binary()),
        pa.field("clip_start", pa.float64()),
        pa.field("clip_end", pa.float64()),
        pa.field("conversations", pa.string()),  # JSON list of Conversation
        pa.field("reason", pa.string()),
        pa.field("message", pa.string()),
        pa.field("clip_unit", pa.string()),
        pa.field("media", pa.string()),
    ]
)
#: One row per unit: Ray Data may merge or slice blocks, but never splits a row, so a
#: unit always reaches one actor call whole.
WORK_SCHEMA = pa.schema(
    [
        pa.field("unit", pa.string()),
        pa.field("shard", pa.string()),
        pa.field("index", pa.int64()),
        pa.field("last", pa.bool_()),
        pa.field("samples", pa.list_(SAMPLE_TYPE)),
        # --retry-failed: the sample ids to redo; the unit's other rows are kept
        pa.field("retry", pa.list_(pa.string())),
    ]
)


class ConvertError(Exception):
    """A conversion that cannot start: bad input location, nothing found, ..."""


# ---------------------------------------------------------------------------- read


def _work_row(
    shard: str, index: int, samples: list[Sample], last: bool, retry: tuple[str, ...] | None
) -> pa.Table:
    items = [
        {
            "sample": s.id,
            "video": s.video,
            "data": s.data,
            "clip_start": s.clip[0],
            "clip_end": s.clip[1],
            "conversations": json.dumps([c.to_json() for c in s.conversations]),
            "reason": s.error[0] if s.error else None,
            "message": s.error[1] if s.error else None,
            "clip_unit": s.clip_unit,
            "media": s.media,
        }
        for s in samples
    ]
    row = {
        "unit": sink.unit_name(shard, index),
        "shard": shard,
        "index": index,
        "last": last,
        "retry": retry,
    }
    return pa.Table.from_pylist([{**row, "samples": items}], schema=WORK_SCHEMA)


def read_units(
    source_name: str,
    ctx: SourceContext,
    input_uri: str,
    shard: str,
    cap: int | None,
    samples_per_file: int,
    skip: frozenset[int] = frozenset(),
    retry: dict[int, tuple[str, ...]] | None = None,
    video_index: Any = None,
) -> Iterator[pa.Table]:
    """Stream one shard as one-row tables, a unit each, leaving out the units in
    ``skip`` (committed by an earlier run); ``retry`` names the samples to redo in
    the units it lists. ``video_index``: the source's video lookup table, built once by
    the driver, as a Ray object reference (or the table itself)."""
    retry = retry or {}
    source = sources.get(source_name, ctx)
    if video_index is not None:
        if not isinstance(video_index, dict):
            import ray

            video_index = ray.get(video_index)
        assert isinstance(source, AnnotationSource)
        source.use_video_index(video_index)
    samples = source.samples(storage.location(input_uri), shard)
    if cap is not None:
        samples = itertools.islice(samples, cap)
    for (index, unit), last in _mark_last(enumerate(_chunk(samples, samples_per_file))):
        if index not in skip:
            yield _work_row(shard, index, unit, last, retry.get(index))


def _chunk(samples: Iterator[Sample], per_file: int) -> Iterator[list[Sample]]:
    """Consecutive samples, ``per_file`` at a time or ``SAMPLE_BYTES_PER_FILE`` of video."""
    unit: list[Sample] = []
    size = 0
    for sample in samples:
        unit.append(sample)
        size += len(sample.data or b"")
        if len(unit) >= per_file or size >= SAMPLE_BYTES_PER_FILE:
            yield unit
            unit, size = [], 0
    if unit:
        yield unit


def _mark_last(items: Iterator[T]) -> Iterator[tuple[T, bool]]:
    """Each item with whether it is the last one (one item of lookahead)."""
    it = iter(items)
    try:
        prev = next(it)
    except StopIteration:
        return
    for item in it:
        yield prev, False
        prev = item
    yield prev, True


#: Per shard: (shard, sample cap, unit indices to skip, {unit index: sample ids to redo})
Plan = list[tuple[str, int | None, frozenset[int], dict[int, tuple[str, ...]]]]


def _read_tasks(
    opts: ConvertOptions, input_uri: str, ctx: SourceContext, plan: Plan, video_index: Any
):
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class ShardDatasource(Datasource):
        def estimate_inmemory_data_size(self) -> int | None:
            return None

        def get_read_tasks(self, parallelism: int, **_: Any) -> list[ReadTask]:
            return [
                ReadTask(
                    partial(
                        read_units,
                        opts.source,
                        ctx,
                        input_uri,
                        shard,
                        cap,
                        opts.samples_per_file,
                        skip,
                        retry,
                        video_index,
                    ),
                    BlockMetadata(
                        num_rows=None, size_bytes=None, input_files=[shard], exec_stats=None
                    ),
                    schema=WORK_SCHEMA,
                )
                for shard, cap, skip, retry in plan
            ]

        def get_name(self) -> str:
            return f"Read[{opts.source}]"

    return ShardDatasource()


# ------------------------------------------------------------------------- convert


@dataclass(frozen=True)
class StageConfig:
    source: str
    output: str
    sampling: SamplingPolicy
    size: int | None
    jpeg_quality: int
    sample_timeout_s: float = 300.0
    decode_attempts: int = 2
    decoder_module: str = "vidray.media.isolate"
    #: The videos root of an annotation source (None: videos travel inside the shards).
    videos: str | None = None
    #: Frame rate of frame-image folders (``media == "frames"``).
    frames_fps: float | None = None
    duration_range: tuple[float | None, float | None] = (None, None)

    @classmethod
    def from_options(
        cls, opts: ConvertOptions, output_uri: str, source: sources.Source, input_uri: str
    ) -> StageConfig:
        videos = frames_fps = None
        if isinstance(source, AnnotationSource):
            videos = source.videos_location(storage.location(input_uri)).uri
            frames_fps = source.frames_fps
        return cls(
            opts.source,
            output_uri,
            opts.sampling,
            opts.size,
            opts.jpeg_quality,
            opts.sample_timeout_s,
            opts.decode_attempts,
            opts.decoder_module,
            videos,
            frames_fps,
            (opts.min_duration, opts.max_duration),
        )


def _in_sample_order(rows: list[dict[str, Any]], samples: list[dict[str, Any]]) -> list[dict]:
    """Rows ordered as a clean run writes them: by their sample's place in the unit."""
    place = {s["video"]: i for i, s in enumerate(samples)}
    return sorted(rows, key=lambda r: place[r["video"]])


class ConvertStage:
    """Decode each sample once, sample its frames, and write each unit's files."""

    def __init__(self, cfg: StageConfig) -> None:
        self.cfg = cfg
        self.out = storage.location(cfg.output)
        self.videos = storage.location(cfg.videos) if cfg.videos else None
        self.decoder = isolate.IsolatedDecoder(
            timeout_s=cfg.sample_timeout_s,
            attempts=cfg.decode_attempts,
            module=cfg.decoder_module,
        )

    def __call__(self, batch: pa.Table) -> pa.Table:
        results = []
        for unit in batch.to_pylist():
            rows: list[dict[str, Any]] = []
            errors: list[dict[str, Any]] = []
            samples = unit["samples"]
            if unit["retry"] is not None:
                # Keep the unit's converted rows, redo only the samples that failed.
                rows = sink.read_unit_rows(self.out, unit["unit"])
                redo = set(unit["retry"])
                samples = [s for s in samples if redo.intersection(_row_ids(s))]
                # A redone sample replaces whatever rows it had: retrying is idempotent.
                redone = {rid for s in samples for rid in _row_ids(s)}
                rows = [r for r in rows if r["id"] not in redone]
            for s in samples:
                self._convert(s, rows, errors)
            results.append(
                sink.write_unit(
                    self.out,
                    unit["unit"],
                    len(unit["samples"]),
                    _in_sample_order(rows, unit["samples"]),
                    errors,
                    shard=unit["shard"],
                    index=unit["index"],
                    last=unit["last"],
                )
            )
        return pa.Table.from_pylist(results, schema=sink.UNIT_RESULT_SCHEMA)

    def _errors(self, s: dict[str, Any], reason: str, message: str) -> list[dict[str, Any]]:
        """One error row per conversation the sample carried (one for the sample when
        it carried none), so no question disappears without its id."""
        return [
            {
                "id": rid,
                "source": self.cfg.source,
                "video": s["video"],
                "reason": reason,
                "message": message,
            }
            for rid in _row_ids(s)
        ]

    def _convert(self, s: dict[str, Any], rows: list, errors: list) -> None:
        if s["reason"]:
            errors += self._errors(s, s["reason"], s["message"])
            return
        try:
            if s["media"] == "frames":
                info, times, jpegs, (w, h) = self._sample_frames(s)
            else:
                info, times, jpegs, (w, h) = self.decoder.sample_video(
                    self._video(s),
                    policy=self.cfg.sampling,
                    clip=(s["clip_start"], s["clip_end"]),
                    clip_unit=s["clip_unit"],
                    size=self.cfg.size,
                    quality=self.cfg.jpeg_quality,
                    duration_range=self.cfg.duration_range,
                )
        except decode.DecodeFailure as e:
            errors += self._errors(s, e.reason, e.message)
            return
        if s["clip_unit"] == "frame" and info.fps:
            # Rows carry spans in seconds, whatever unit the annotation used.
            s = {**s, "clip_start": _frames_to_s(s["clip_start"], info.fps)}
            s["clip_end"] = _frames_to_s(s["clip_end"], info.fps)
        if s["clip_start"] is not None and s["clip_end"] is None:
            s = {**s, "clip_end": info.duration}  # a span "to the end": say where that was
        for c in map(Conversation.from_json, json.loads(s["conversations"])):
            rows.append(
                {
                    "id": c.id,
                    "source": self.cfg.source,
                    "video": s["video"],
                    "clip_start": s["clip_start"],
                    "clip_end": s["clip_end"],
                    "conversations": [{"from": f, "value": v} for f, v in c.turns],
                    "query": c.query,
                    "frames": jpegs,
                    "frame_timestamps": times,
                    "width": w,
                    "height": h,
                    "video_duration": info.duration,
                    "video_fps": info.fps,
                }
            )

    def _video(self, s: dict[str, Any]) -> bytes | storage.FileRef:
        """The sample's video: bytes that travelled inside its shard, or a reference
        the decoder process opens and reads by ranges (annotation sources)."""
        if s["data"] is not None:
            return s["data"]
        if self.videos is None:
            raise decode.DecodeFailure("missing_video", "the sample carries no video")
        return storage.FileRef(self.videos.uri, s["video"])

    def _sample_frames(self, s: dict[str, Any]) -> Any:
        """A video stored as a folder of frame images: choose the images from the
        listing alone, then read, scale and re-encode only those."""
        assert self.videos is not None and self.cfg.frames_fps
        fps = self.cfg.frames_fps
        names = storage.list_files(self.videos, IMAGE_SUFFIXES, s["video"])
        if not names:
            raise decode.DecodeFailure(
                "missing_video", f"{self.videos.display(s['video'])} holds no frame images"
            )
        info = decode.VideoInfo(duration=len(names) / fps, fps=fps, width=0, height=0)
        decode.check_duration(info, self.cfg.duration_range)
        start, end = decode.clip_span(info, (s["clip_start"], s["clip_end"]), s["clip_unit"])
        times = [i / fps for i in range(len(names))]
        chosen = select_frames(times, targets_for(self.cfg.sampling, start, end))
        images = []
        for i in chosen:
            with storage.open_read(self.videos, names[i]) as f:
                images.append(f.read())
        return self.decoder.sample_images(
            images,
            times=[times[i] for i in chosen],
            info=info,
            size=self.cfg.size,
            quality=self.cfg.jpeg_quality,
        )


def _frames_to_s(value: float | None, fps: float) -> float | None:
    return None if value is None else value / fps


def _row_ids(s: dict[str, Any]) -> list[str]:
    """The ids of the rows a sample yields: one per conversation, else the sample's."""
    return [c["id"] for c in json.loads(s["conversations"])] or [s["sample"]]


# ---------------------------------------------------------------------------- plan


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
    #: Seconds until the first unit was done: start-up (actors, imports) plus one unit.
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

    @classmethod
    def of_manifest(cls, output: str, manifest: dict[str, Any]) -> Summary:
        counts = manifest["counts"]
        return cls(
            output=output,
            samples=counts["samples"],
            rows=counts["rows"],
            frames=counts["frames"],
            errors=dict(counts["errors_by_reason"]),
            units=counts["units"],
            manifest=manifest,
            skipped_files=manifest.get("skipped_files", {}).get("files", []),
            already_complete=True,
        )

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
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.errors.items())) or "none"
        counts = (
            f"{self.samples} samples -> {self.rows} rows, {self.frames} frames, "
            f"{self.error_count} errors ({reasons})"
        )
        skipped = ""
        if self.skipped_files:
            names = ", ".join(self.skipped_files[:3])
            more = ", ..." if len(self.skipped_files) > 3 else ""
            skipped = f"; {len(self.skipped_files)} annotation files not read ({names}{more})"
        if self.already_complete:
            return (
                f"already complete: {counts}, committed {self.manifest.get('committed_at')}"
                f"{skipped}; output: {self.output} (nothing to do; --overwrite redoes it)"
            )
        resumed = f" (+{self.resumed_units} units committed earlier)" if self.resumed_units else ""
        return (
            f"{counts} in {self.elapsed_s:.1f} s "
            f"({self.samples_per_s:.1f} clips/s){resumed}{skipped}; output: {self.output}"
        )


def plan_shards(
    source: sources.Source,
    loc: storage.Location,
    shards: list[str],
    limit: int | None,
    committed: dict[str, dict[str, Any]],
    retry: dict[str, tuple[str, ...]] | None = None,
) -> tuple[Plan, int | None]:
    """Each shard to read, with its sample cap (None: all) and its committed units,
    and with ``limit`` the samples the run has in all (counted on the way). A shard
    whose units are all committed is not read at all. With ``retry`` (unit name ->
    sample ids), only those committed units are read again."""
    retry = retry or {}
    done: dict[str, set[int]] = {}
    last: dict[str, int] = {}
    for r in committed.values():
        done.setdefault(r["shard"], set()).add(r["index"])
        if r["last"]:
            last[r["shard"]] = r["index"]
    plan: Plan = []
    left = limit
    for shard in shards:
        cap = None
        if left is not None:
            cap = source.count(loc, shard, left)
            left -= cap
        redo = {
            r["index"]: retry[r["unit"]]
            for r in committed.values()
            if r["shard"] == shard and r["unit"] in retry
        }
        skip = frozenset(done.get(shard, ())) - redo.keys()
        complete = shard in last and skip >= set(range(last[shard] + 1))
        if cap != 0 and not complete:
            plan.append((shard, cap, skip, redo))
        if left == 0:
            break
    return plan, None if limit is None or left is None else limit - left


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


def _check_unit_names(shards: list[str]) -> None:
    """Output files are named after their input file's path without its extension, so
    two inputs differing only in extension would write the same files: refuse."""
    seen: dict[str, str] = {}
    for shard in shards:
        name = sink.unit_name(shard, 0)
        if name in seen:
            raise ConvertError(
                f"{seen[name]} and {shard} would name the same output files; "
                "move one of them out of INPUT"
            )
        seen[name] = shard


def build_source(opts: ConvertOptions) -> sources.Source:
    """The source of ``opts``, with its instruction pool loaded."""
    ctx = SourceContext(
        prompts=prompts.load_prompts(opts.prompts),
        seed=opts.seed,
        videos=opts.videos,
        split=opts.split,
        qa_mode=opts.qa_mode,  # type: ignore[arg-type]
        mc_template=opts.mc_template,
    )
    return sources.get(opts.source, ctx)


#: How far above a single-shard INPUT its dataset root is looked for.
_SHARD_DEPTH = 6


def _find_shards(source: sources.Source, inp: storage.Location) -> tuple[storage.Location, list]:
    """The dataset root and its shards. INPUT is normally the root; INPUT may also be
    one shard file, found as the nearest folder above it under which the source would
    list it (``00000000.tar`` in WebVid's folder, ``data/x.parquet`` in FineVideo's):
    that shard alone is converted, named as in a run over the whole folder."""
    if not storage.is_file(inp):
        if inp.scheme == "file" and not os.path.exists(inp.path):
            raise ConvertError(f"INPUT {inp.display()} does not exist")
        storage.check_folder(inp, "INPUT")
        return inp, source.units(inp)
    parts = inp.path.split("/")
    for depth in range(1, min(_SHARD_DEPTH, len(parts) - 1) + 1):
        rel = "/".join(parts[-depth:])
        if source.is_unit(rel):
            root = "/".join(parts[:-depth]) or "/"
            return storage.location(f"s3://{root}" if inp.scheme == "s3" else root), [rel]
    raise ConvertError(
        f"INPUT {inp.display()} is a file but not a {source.name} shard; pass the dataset's "
        f"folder (`vidray sources` shows the layout {source.name} expects)"
    )


@dataclass
class Job:
    """A conversion that passed every check: what ``run`` needs, nothing written yet."""

    opts: ConvertOptions
    source: sources.Source
    #: The dataset root: INPUT, or the folder above a single-shard INPUT.
    inp: storage.Location
    out: storage.Location
    shards: list[str]
    #: What ``_SUCCESS`` records of the inputs, to recognise a complete OUTPUT.
    inputs: dict[str, Any]
    #: Units an earlier run of the same command committed.
    committed: dict[str, dict[str, Any]]
    #: ``--retry-failed``: unit -> the ids of its failed samples.
    retry: dict[str, tuple[str, ...]]
    #: ``_SUCCESS`` when OUTPUT is already complete for this command and these inputs.
    complete: dict[str, Any] | None
    #: Annotation-type files under INPUT the source does not read (reported, not lost).
    skipped: list[str] = field(default_factory=list)


def prepare(opts: ConvertOptions) -> Job:
    """Every check that can refuse the run, before anything is written and before Ray
    starts: options, source and split, storage, INPUT and OUTPUT, the owner of OUTPUT,
    ``--retry-failed``. Raises ``ConvertError``; a refused run leaves OUTPUT as it was."""
    try:
        source = build_source(opts)
        inp, out = storage.location(opts.input), storage.location(opts.output)
        storage.check_reachable(inp)
        storage.check_reachable(out)
        storage.check_folder(out, "OUTPUT", write=True)
        if not isinstance(source, AnnotationSource) and (opts.videos or opts.split):
            raise ConvertError(
                f"{opts.source} carries its videos inside its shards and has no splits: "
                "--videos and --split do not apply"
            )
        inp, shards = _find_shards(source, inp)
        if isinstance(source, AnnotationSource):
            videos = source.videos_location(inp)
            storage.check_reachable(videos)
            if not videos.fs.exists(videos.path):
                # Otherwise every question would become a missing_video row.
                raise ConvertError(
                    f"no videos at {videos.display()}: {opts.source} expects "
                    f"{source.layout}; give --videos URI when they are elsewhere"
                )
        if not shards:
            raise ConvertError(
                f"nothing found at {inp.display()}: {opts.source} expects {source.layout}"
            )
        _check_unit_names(shards)
        skipped = source.skipped_units(inp) if isinstance(source, AnnotationSource) else []
        options = opts.recorded()
        committed = sink.claimed_units(out, options, overwrite=opts.overwrite)
        retry = sink.failed_samples(out, committed) if opts.retry_failed else {}
    except (
        sources.UnknownSource,
        prompts.PromptError,
        storage.StorageError,
        sink.OutputConflict,
        BadInput,
    ) as e:
        raise ConvertError(str(e)) from e
    except PermissionError as e:
        raise ConvertError(f"cannot read {e.filename or opts.input}: permission denied") from e
    if opts.retry_failed and not committed:
        raise ConvertError(f"--retry-failed: {out.display()} holds no output of this command")
    if opts.retry_failed and not retry:
        raise ConvertError(
            f"--retry-failed: {out.display()} records no failed samples; "
            "run the command without --retry-failed to finish it"
        )
    digest = hashlib.sha256("\n".join(shards).encode()).hexdigest()
    inputs = {"root": inp.uri, "shards": len(shards), "digest": digest}
    complete = None
    if not (opts.overwrite or opts.retry_failed):
        complete = sink.complete_manifest(out, options, inputs)
    return Job(opts, source, inp, out, shards, inputs, committed, retry, complete, skipped)


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
    plan, counted = plan_shards(source, inp, job.shards, opts.limit, job.committed, job.retry)
    committed = {u: r for u, r in job.committed.items() if u not in job.retry}
    total = _planned_total(source, inp, plan, committed, counted, job.retry)

    try:
        cluster.connect(opts.ray_address)  # no-op when the caller connected already
    except cluster.Unreachable as e:
        raise ConvertError(str(e)) from None
    # vidray prints its own progress and summary; Ray Data's logs stay in its log files.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    # Blocks are cut between rows only, and a row is a unit: a small target gives one
    # block per unit, so units spread over the actors instead of queuing behind a block.
    ctx.target_max_block_size = UNIT_BLOCK_BYTES
    ctx.verbose_stats_logs = False
    total_cpus = float(ray.cluster_resources().get("CPU", 1))
    workers = opts.num_workers or max(1, int(total_cpus))
    done = sum(r["samples"] for r in committed.values())
    if total is not None:
        # No more actors than there are units left to keep them busy.
        left = total - done
        workers = min(workers, max(1, math.ceil(left / opts.samples_per_file)))
    # By default the pool fits the CPUs present now; on an autoscaling cluster pass
    # cpus_per_worker so that pending actors make the autoscaler add nodes.
    cpus_per_actor = opts.cpus_per_worker or min(1.0, DECODE_SHARE * total_cpus / workers)

    # The first write of the run: every check passed and Ray is up.
    sink.begin(out, opts.recorded(), job.committed, overwrite=opts.overwrite)
    started = time.monotonic()
    summary = Summary(output=out.display(), resumed_units=len(committed), shards=len(plan))
    summary.skipped_files = job.skipped
    if progress is None:
        progress = make_progress(opts.progress, sys.stderr)
    progress.start(total, done)
    stage = StageConfig.from_options(opts, out.uri, source, inp.uri)
    try:
        results = _run(opts, inp.uri, source, stage, plan, workers, cpus_per_actor,
                       summary, started, progress)  # fmt: skip
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
    }
    summary.manifest = sink.commit(out, [*committed.values(), *results], info)
    return summary


def _planned_total(
    source: sources.Source,
    inp: storage.Location,
    plan: Plan,
    committed: dict[str, dict[str, Any]],
    counted: int | None,
    retry: dict[str, tuple[str, ...]],
) -> int | None:
    """Samples of the whole run, committed ones included, when they can be known
    without reading the shards again: with ``--limit`` (``counted`` by the plan) or a
    source whose count reads metadata only; else None (an open count)."""
    if retry:
        return None
    if counted is not None:
        return counted
    if not source.cheap_count:
        return None
    planned = {shard for shard, *_ in plan}
    done = sum(r["samples"] for r in committed.values() if r["shard"] not in planned)
    return done + sum(source.count(inp, shard, 2**62) for shard in planned)


def _run(
    opts: ConvertOptions,
    input_uri: str,
    source: sources.Source,
    stage: StageConfig,
    plan: Plan,
    workers: int,
    cpus_per_actor: float,
    summary: Summary,
    started: float,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Execute the Ray Data pipeline over ``plan``; return the units it committed."""
    import ray
    import ray.data

    if not plan:
        return []
    # The videos root is listed here, once per job, not once per annotation file.
    index = None
    if isinstance(source, AnnotationSource) and len(plan) > 1:
        index = source.video_index(storage.location(input_uri))
    ds = ray.data.read_datasource(
        _read_tasks(opts, input_uri, source.ctx, plan, None if index is None else ray.put(index)),
        override_num_blocks=len(plan),
        num_cpus=READ_CPUS,
        # Each read task may start a Python worker (seconds of imports): no more at once
        # than there are decode actors to feed.
        concurrency=max(1, min(len(plan), workers)),
    )
    results_ds = ds.map_batches(
        ConvertStage,
        fn_constructor_args=(stage,),
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=cpus_per_actor,
    )
    results: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    for r in results_ds.iter_rows():
        results.append(dict(r))
        summary.samples += r["samples"]
        summary.rows += r["rows"]
        summary.frames += r["frames"]
        summary.units += 1
        summary.shards_done += bool(r["last"])
        if summary.units == 1:
            summary.first_unit_s = time.monotonic() - started
            summary.first_unit_samples = r["samples"]
        reasons.update(json.loads(r["errors"]))
        summary.errors = dict(reasons)
        progress.update(summary, r["samples"])
    return results
