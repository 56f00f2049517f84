"""Read tasks: one per shard, streaming its samples as work units.

A unit is at most ``samples_per_file`` consecutive samples of one shard, cut so that
the samples of one video stay together (the decoder then makes one pass over the
video for all of them), and at most ``SAMPLE_BYTES_PER_FILE`` bytes of videos (or
images) that travel inside the shard. It travels as one Arrow row (``records.WORK_SCHEMA``), so
Ray Data never splits it; it is converted by one convert call and becomes one data file
plus one error file, so file names never depend on how Ray Data scheduled the work.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from functools import partial
from typing import Any, TypeVar

import pyarrow as pa

from vidray import output, records, sources
from vidray.io import storage
from vidray.records import Sample
from vidray.sources.base import SourceContext

T = TypeVar("T")

#: A unit closes early once it holds this many bytes of video: bounds the memory of a
#: read task and of a convert call.
SAMPLE_BYTES_PER_FILE = 48 * 2**20
#: A unit grows past ``samples_per_file`` while its samples stay on one video, up to
#: this many times that: one pass over a video serves all the spans asked of it.
SAME_VIDEO_GROWTH = 4

#: Per shard: (shard, sample cap, unit indices to skip, {unit index: row ids to redo})
Plan = list[tuple[str, int | None, frozenset[int], dict[int, tuple[str, ...]]]]


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
    ``skip`` (committed by an earlier run); ``retry`` names the rows to redo in the
    units it lists. ``video_index``: the source's video lookup table, built once by
    the driver, as a Ray object reference (or the table itself)."""
    retry = retry or {}
    source = sources.get(source_name, ctx)
    if video_index is not None:
        if not isinstance(video_index, dict):
            import ray

            video_index = ray.get(video_index)
        source.use_video_index(video_index)
    samples = source.samples(storage.location(input_uri), shard)
    if cap is not None:
        samples = itertools.islice(samples, cap)
    for (index, unit), last in _mark_last(enumerate(chunk(samples, samples_per_file))):
        if index not in skip:
            name = output.unit_name(shard, index)
            work = records.WorkUnit(name, shard, index, last, unit, retry.get(index))
            yield records.units_to_arrow([work])


def _same_video(a: Sample, b: Sample) -> bool:
    """Whether ``b`` is read from the same video file as ``a`` (by reference)."""
    if a.error or b.error or a.data is not None or b.data is not None or a.images or b.images:
        return False
    return (a.video, a.ref, a.media) == (b.video, b.ref, b.media)


def chunk(samples: Iterator[Sample], per_file: int) -> Iterator[list[Sample]]:
    """Consecutive samples, ``per_file`` at a time or ``SAMPLE_BYTES_PER_FILE`` of
    video; a unit that is full stays open while the next sample is on its last
    sample's video (up to ``SAME_VIDEO_GROWTH`` times ``per_file``)."""
    unit: list[Sample] = []
    size = 0
    for sample in samples:
        if unit and (len(unit) >= per_file or size >= SAMPLE_BYTES_PER_FILE):
            grow = len(unit) < SAME_VIDEO_GROWTH * per_file and _same_video(unit[-1], sample)
            if not grow:
                yield unit
                unit, size = [], 0
        unit.append(sample)
        size += _weight(sample)
    if unit:
        yield unit


def _weight(sample: Sample) -> int:
    """The bytes of media a sample counts for in the cut of units: what it carries,
    and the weight its source gave it."""
    return len(sample.data or b"") + sum(len(image) for image in sample.images) + sample.weight


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


def datasource(
    source: str,
    ctx: SourceContext,
    input_uri: str,
    plan: Plan,
    samples_per_file: int,
    video_index: Any,
) -> Any:
    """A Ray Data datasource with one read task per shard of ``plan``."""
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
                        source,
                        ctx,
                        input_uri,
                        shard,
                        cap,
                        samples_per_file,
                        skip,
                        retry,
                        video_index,
                    ),
                    BlockMetadata(
                        num_rows=None, size_bytes=None, input_files=[shard], exec_stats=None
                    ),
                    schema=records.WORK_SCHEMA,
                )
                for shard, cap, skip, retry in plan
            ]

        def get_name(self) -> str:
            return f"Read[{source}]"

    return ShardDatasource()
