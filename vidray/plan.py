"""Planning: every check that can refuse a run, and what a run has left to do.

``prepare`` turns options into a ``Job`` (source, INPUT root and shards, OUTPUT and
the units an earlier run of the same command committed) without writing anything or
starting Ray, and plans it there, once: ``plan_shards`` says which shards the run
reads, with what caps, and which of their units it skips; ``planned_total`` how many
samples the run has, where that is known before reading.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from vidray import output, prompts, sources
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.read import Plan
from vidray.sources.base import BadInput, SourceContext

#: ``--retry-failed``: shard -> unit index -> the ids of the unit's failed samples.
Retry = dict[str, dict[int, tuple[str, ...]]]


class ConvertError(Exception):
    """A conversion that cannot start: bad input location, nothing found, ..."""


def plan_shards(
    source: sources.Source,
    loc: storage.Location,
    shards: list[str],
    limit: int | None,
    committed: output.Ledger,
    retry: Retry | None = None,
) -> tuple[Plan, int | None]:
    """Each shard to read, with its sample cap (None: all) and its committed units,
    and with ``limit`` the samples the run has in all (counted on the way). A shard
    whose units are all committed is not read at all. With ``retry`` (shard -> unit
    index -> sample ids), only those committed units are read again. Nothing is held
    per unit: a compacted shard's committed units are one ``range``."""
    retry = retry or {}
    plan: Plan = []
    left = limit
    for shard in shards:
        cap = None
        if left is not None:
            cap = source.count(loc, shard, left)
            left -= cap
        redo = retry.get(shard, {})
        done, last = committed.progress(shard)
        skip = frozenset(done) - redo.keys()
        complete = last is not None and skip.issuperset(range(last + 1))
        if cap != 0 and not complete:
            plan.append((shard, cap, skip, redo))
        if left == 0:
            break
    return plan, None if limit is None or left is None else limit - left


def check_unit_names(shards: list[str]) -> None:
    """Output files are named after their input file's path without its extension, so
    two inputs differing only in extension would write the same files: refuse."""
    seen: dict[str, str] = {}
    for shard in shards:
        name = output.unit_name(shard, 0)
        if name in seen:
            raise ConvertError(
                f"{seen[name]} and {shard} would name the same output files; "
                "move one of them out of INPUT"
            )
        seen[name] = shard


def build_source(opts: ConvertOptions) -> sources.Source:
    """The source of ``opts``, with its instruction pool loaded."""
    data = opts.dataset
    pool = prompts.load_prompts(data.prompts)
    # A pool given with --prompts serves every source; the built-in ones per media.
    images = pool if data.prompts else prompts.BUILTIN_IMAGE_PROMPTS
    return sources.get(data.source, SourceContext(data, pool, images))


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
    committed: output.Ledger
    #: ``--retry-failed``: shard -> unit index -> the ids of its failed samples.
    retry: Retry
    #: ``_SUCCESS`` when OUTPUT is already complete for this command and these inputs.
    complete: dict[str, Any] | None
    #: Annotation-type files under INPUT the source does not read (reported, not lost).
    skipped: list[str] = field(default_factory=list)
    #: Samples of the committed units ``retry`` redoes.
    retry_samples: int = 0
    #: The shards this run reads (``plan_shards``; empty for a complete OUTPUT).
    plan: Plan = field(default_factory=list)
    #: Samples of the whole run when known before reading (``planned_total``).
    total: int | None = None


def prepare(opts: ConvertOptions) -> Job:
    """Every check that can refuse the run, before anything is written and before Ray
    starts: options, source and split, storage, INPUT and OUTPUT, the owner of OUTPUT,
    ``--retry-failed``. Raises ``ConvertError``; a refused run leaves OUTPUT as it was."""
    data, run = opts.dataset, opts.run
    try:
        source = build_source(opts)
        inp, out = storage.location(data.input), storage.location(opts.out.output)
        storage.check_reachable(inp)
        storage.check_reachable(out)
        storage.check_folder(out, "OUTPUT", write=True)
        if source.media_in_shards and (data.videos or data.split):
            raise ConvertError(
                f"{data.source} carries its videos inside its shards and has no splits: "
                "--videos and --split do not apply"
            )
        images = source.media == "image"
        if images and (data.min_duration is not None or data.max_duration is not None):
            raise ConvertError(
                f"{data.source} is a set of images: --min-duration and --max-duration do not apply"
            )
        inp, shards = _find_shards(source, inp)
        videos = source.videos_location(inp)
        if videos is not None:
            storage.check_reachable(videos)
            if not videos.fs.exists(videos.path):
                # Otherwise every question would become a missing_video row.
                kind = "images" if images else "videos"
                raise ConvertError(
                    f"no {kind} at {videos.display()}: {data.source} expects "
                    f"{source.layout}; give --videos URI when they are elsewhere"
                )
        if not shards:
            raise ConvertError(
                f"nothing found at {inp.display()}: {data.source} expects {source.layout}"
            )
        check_unit_names(shards)
        skipped = source.skipped_units(inp)
        options = opts.recorded()
        committed = output.claimed_units(out, options, overwrite=run.overwrite)
        retry, retry_samples = output.failed_samples(out) if run.retry_failed else ({}, 0)
    except (
        sources.UnknownSource,
        prompts.PromptError,
        storage.StorageError,
        output.OutputConflict,
        BadInput,
    ) as e:
        raise ConvertError(str(e)) from e
    except PermissionError as e:
        raise ConvertError(f"cannot read {e.filename or data.input}: permission denied") from e
    if run.retry_failed and not committed.units:
        raise ConvertError(f"--retry-failed: {out.display()} holds no output of this command")
    if run.retry_failed and not retry:
        raise ConvertError(
            f"--retry-failed: {out.display()} records no failed samples; "
            "run the command without --retry-failed to finish it"
        )
    digest = hashlib.sha256("\n".join(shards).encode()).hexdigest()
    inputs = {"root": inp.uri, "shards": len(shards), "digest": digest}
    complete = None
    if not (run.overwrite or run.retry_failed):
        complete = output.complete_manifest(out, options, inputs)
    if committed.units and complete is None:
        try:
            output.check_layout(out)
        except output.OutputConflict as e:
            raise ConvertError(str(e)) from e
    job = Job(
        opts, source, inp, out, shards, inputs, committed, retry, complete, skipped, retry_samples
    )
    if complete is None:
        # Planned here, once: ``pipeline.run`` reads this plan and total.
        job.plan, counted = plan_shards(source, inp, shards, data.limit, committed, retry)
        job.total = planned_total(source, inp, job.plan, committed, counted, retry)
    return job


def planned_total(
    source: sources.Source,
    inp: storage.Location,
    plan: Plan,
    committed: output.Ledger,
    counted: int | None,
    retry: Retry,
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
    return committed.samples_outside(planned) + sum(
        source.count(inp, shard, 2**62) for shard in planned
    )
