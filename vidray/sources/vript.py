"""Vript (Mutonix/Vript): per-scene captions in ``vript_captions/*.jsonl`` + scene clips."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require, require_text

_CAPTIONS = "vript_captions/vript_{}_videos_captions.jsonl"


class Vript(AnnotationSource):
    """One caption conversation per scene record (exactly one row per line): the human
    turn is an instruction drawn from the prompt pool (deterministic per row id and
    seed), the gpt turn the scene's ``caption.content``; ``shot_type``,
    ``camera_movement``, ``scene_title`` and ``voiceover`` are not the caption and are
    left out.

    The clip is ``<meta.video_id>/<clip_id>.mp4`` under the videos root, as the clip
    zips unpack; scene numbers in ``clip_id`` (``<video_id>-Scene-007``) have gaps, so
    nothing is derived from them. Row ids are the ``clip_id``. Split ``train`` reads
    the long- and the short-video files, ``long`` and ``short`` one each.
    """

    name = "vript"
    layout = (
        "INPUT/vript_captions/vript_{long,short}_videos_captions.jsonl  {meta: {video_id}, "
        "clip_id, caption: {content}}; videos: INPUT/videos/<video_id>/<clip_id>.mp4"
    )
    annotation_files = {
        "train": (_CAPTIONS.format("long"), _CAPTIONS.format("short")),
        "long": (_CAPTIONS.format("long"),),
        "short": (_CAPTIONS.format("short"),),
    }

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        video = require(require(record, "meta", dict), "video_id")
        clip = require(record, "clip_id")
        if "/" in clip or "/" in video:
            raise BadAnnotation(f"'/' in video_id {video!r} or clip_id {clip!r}")
        caption = require_text(require(record, "caption", dict).get("content"), "caption.content")
        instruction = self.ctx.instruction(self.sample_id(clip))
        yield Item.single(clip, f"{video}/{clip}.mp4", instruction, caption)
