"""DiDeMo: moment descriptions on Flickr videos, located in 5-second segments."""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterable
from typing import Any

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require, require_text

SEGMENT_S = 5.0
#: Segments per video when ``num_segments`` is absent: annotation covered 30 s.
SEGMENTS = 6


class Didemo(AnnotationSource):
    """One caption row per annotation: the human turn is the seeded caption
    instruction, the gpt turn the ``description``, sampled inside the moment.

    ``times`` holds one ``[start, end]`` pair of 5-second segment indices per
    annotator; the moment is the pair most annotators gave (ties: the earliest,
    ordered by start then end), spanning ``[5*start, 5*(end+1)]`` seconds. A moment
    ending in the last segment (``num_segments - 1``, 5 when the field is absent)
    runs to the end of the video: DiDeMo videos are 25-30 s and the last segment is
    shorter than 5 s. Videos longer than 30 s were annotated on their first 30 s
    only, so such a moment also takes in the rest of the video; a moment past the
    video's end is a ``bad_span`` row.

    (?) formats.md leaves this layout unconfirmed; the fields used are the ones the
    LocalizingMoments data README lists (``annotation_id``, ``description``,
    ``video``, ``times``, ``num_segments``; ``download_link`` is not read). ``video``
    is a Flickr file name whose extension (``.mov``, ``.mp4``, ``.m4v``, ``.avi``,
    ...) rarely matches the downloaded file: it is found by stem, as ``<video>`` (the
    AWS download script saves ``<video>.mp4``) or without its extension."""

    name = "didemo"
    layout = (
        "INPUT/{train,val,test}_data.json [{annotation_id, description, video, times: "
        "[[start, end] segment indices], num_segments?}]; videos: INPUT/videos/<video stem>.*"
    )
    annotation_files = {
        "train": ("train_data.json",),
        "val": ("val_data.json",),
        "test": ("test_data.json",),
    }
    find_videos_by_stem = True

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        annotation = str(require(record, "annotation_id", (int, str)))
        video = require(record, "video")
        description = require_text(require(record, "description"), "description")
        segments = record.get("num_segments", SEGMENTS)
        if not isinstance(segments, int) or isinstance(segments, bool) or segments < 1:
            raise BadAnnotation(f"'num_segments' is not a positive integer: {segments!r}")
        first, last = consensus(require(record, "times", list))
        start = first * SEGMENT_S
        end = None if last >= segments - 1 else (last + 1) * SEGMENT_S
        # a moment covering the whole video needs no span
        span = None if start == 0 and end is None else (start, end)
        instruction = self.ctx.instruction(self.sample_id(annotation))
        yield Item.single(annotation, video, instruction, description, span=span)

    def video_names(self, item: Item) -> tuple[str, str]:
        # The file keeps the annotated name (``x.mov`` saved as ``x.mov.mp4``) or not.
        return item.video, posixpath.splitext(item.video)[0]


def consensus(times: list[Any]) -> tuple[int, int]:
    """The (start, end) segment pair most annotators chose; ties go to the earliest."""
    counts = Counter(_pair(p) for p in times)
    return min(counts, key=lambda p: (-counts[p], p))


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, list | tuple) and len(value) == 2:
        start, end = _segment(value[0]), _segment(value[1])
        if start is not None and end is not None and 0 <= start <= end:
            return start, end
    raise BadAnnotation(f"'times' holds {value!r}, not a [start, end] segment pair")


def _segment(value: Any) -> int | None:
    """A segment index: an int, or a float with an integral value (tolerated)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return value
