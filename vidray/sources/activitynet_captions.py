"""ActivityNet Captions: dense captions, each on its own span of an ActivityNet video."""

from __future__ import annotations

import numbers
import posixpath
from collections.abc import Iterable
from typing import Any

from vidray.sources.activitynet_qa import v_prefix_variants
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require, require_text


class ActivityNetCaptions(AnnotationSource):
    """One caption row per (timestamp, sentence) pair of a video: the human turn is
    the seeded caption instruction, the gpt turn the sentence, sampled inside
    ``[start, end]`` seconds. Timestamps and sentences pair up by position; lists of
    different lengths make the whole video a ``bad_annotation`` row. Spans are
    checked against the decoded video, not the JSON's ``duration`` (a few timestamps
    run past it): a span outside the video is a ``bad_span`` row.

    Splits: ``train`` (``train.json``), ``val`` (``val_1.json``, the first set of
    validation captions) and ``val_2`` (``val_2.json``, the same videos captioned by
    other annotators). Row keys are ``<v_id>:<k>``, ``k`` the caption's position;
    ``val_2`` keys read ``<v_id>:val_2:<k>`` since they caption the ``val`` videos
    again. The JSON keys are ``v_<youtube id>``; files are found by one listing, any
    video extension, with or without the ``v_`` prefix."""

    name = "activitynet-captions"
    layout = (
        "INPUT/{train,val_1,val_2}.json {v_<id>: {duration, timestamps: [[start, end]], "
        "sentences}}; videos: INPUT/videos/[v_]<id>.{mp4,mkv,webm}"
    )
    annotation_files = {
        "train": ("train.json",),
        "val": ("val_1.json",),
        "val_2": ("val_2.json",),
    }
    find_videos_by_stem = True

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        timestamps = require(record, "timestamps", list)
        sentences = require(record, "sentences", list)
        if len(timestamps) != len(sentences):
            raise BadAnnotation(
                f"{len(timestamps)} timestamps but {len(sentences)} sentences: "
                "they pair up by position"
            )
        spans = [_span(t) for t in timestamps]
        captions = [require_text(s, f"sentence {k}") for k, s in enumerate(sentences)]
        # val_2 captions the val_1 videos again: its keys name it to stay unique
        tag = "val_2:" if posixpath.basename(unit) == "val_2.json" else ""
        for k, (span, caption) in enumerate(zip(spans, captions, strict=True)):
            row = f"{key}:{tag}{k}"
            instruction = self.ctx.instruction(self.sample_id(row))
            yield Item.single(row, key, instruction, caption, span=span)

    def video_names(self, item: Item) -> tuple[str, str]:
        return v_prefix_variants(item.video)


def _span(value: Any) -> tuple[float, float]:
    """A ``[start, end]`` pair of seconds; whether it fits the video is the decoder's
    call (``bad_span``)."""
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
    ):
        return float(value[0]), float(value[1])
    raise BadAnnotation(f"timestamp {value!r} is not a [start, end] pair of seconds")
