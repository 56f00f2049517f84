"""MovieChat-1K: a caption and questions on a whole movie clip, and questions asked at
a moment of it."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from typing import Any

from vidray.io import storage
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require, require_number, require_text


class MovieChat(AnnotationSource):
    """Rows of one ``jsons/<n>.json`` (one JSON object per video):

    - ``global`` QAs: on the whole video (no span), as the recipe reads them;
    - ``breakpoint`` QAs: MovieChat's breakpoint mode, "answer having seen the video up
      to this moment": ``span=(0, time)`` with ``time`` a frame index
      (``span_unit="frame"``, converted with the stream's frame rate; a time past the
      end is ``bad_span``, a time of 0 an empty span, also ``bad_span``);
    - ``caption``: one caption row on the whole video, the human turn a seeded draw
      from the instruction pool (the recipe skips the caption; it is the dataset's
      dense description of the movie clip, so it is kept). A JSON without ``caption``
      has no caption row.

    The row's ``query`` is the question (the drawn instruction for the caption). Keys:
    ``<n>:global:<k>``, ``<n>:breakpoint:<k>``, ``<n>:caption``. The video is
    ``raw_videos/<info.video_path>``; a JSON whose video is not there gives
    ``missing_video`` rows, one per question.

    ``records`` reads the whole file as one document (the base would yield its
    top-level keys) and hands on one QA at a time, so a malformed QA is one
    ``bad_annotation`` row (``jsons/<n>.json#breakpoint:<k>``) and the file's other QAs
    still convert; a file that is not an object, or has no usable ``info.video_path``,
    is one ``bad_annotation`` row for the file.
    """

    name = "moviechat"
    layout = (
        "INPUT/jsons/<n>.json  {caption, info: {video_path, ...}, global: [{question, "
        "answer}], breakpoint: [{time (frame), question, answer}]}; videos: "
        "INPUT/raw_videos/<video_path>"
    )
    annotation_files = {"train": ("jsons/*.json",)}
    videos_dir = "raw_videos"

    def records(self, loc: storage.Location, unit: str) -> Iterator[tuple[str, Any]]:
        try:
            doc = self.read_json(loc, unit)
        except BadAnnotation as e:
            yield "", e
            return
        try:
            video = require(require(doc, "info", dict), "video_path")
        except BadAnnotation as e:
            yield "", BadAnnotation(f"info: {e}")
            return
        for kind in ("global", "breakpoint"):
            entries = doc.get(kind, [])
            if not isinstance(entries, list):
                yield kind, BadAnnotation(f"{kind!r} is not a list")
                continue
            for k, qa in enumerate(entries):
                yield f"{kind}:{k}", {"video": video, "kind": kind, "qa": qa}
        if "caption" in doc:
            yield "caption", {"video": video, "kind": "caption", "caption": doc["caption"]}

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        item_key = f"{posixpath.splitext(posixpath.basename(unit))[0]}:{key}"
        video = record["video"]
        if record["kind"] == "caption":
            caption = require_text(record["caption"], "caption")
            instruction = self.ctx.instruction(self.sample_id(item_key))
            yield Item(item_key, video, ((instruction, caption),), instruction)
            return
        qa = record["qa"]
        question, answer = require(qa, "question"), require(qa, "answer")
        if record["kind"] == "breakpoint":
            span = (0.0, require_number(qa, "time"))
            yield Item(item_key, video, ((question, answer),), question, span, "frame")
        else:
            yield Item(item_key, video, ((question, answer),), question)
