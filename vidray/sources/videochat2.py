"""VideoChat2-IT: the video part of VideoChat2's instruction data (captions, QA,
reasoning, classification, conversations), one annotation file per subset."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require, require_number, strip_media_tokens


class VideoChat2(AnnotationSource):
    """One row per ``QA`` entry of a record (a record's entries share its video and
    span, so ``--qa-mode multiturn`` rebuilds multi-turn records such as
    ``conversation/videochat1``). Every ``video/<task>/<subset>/train.json`` is read:
    the instruction files the data card's ``configs`` list are all of that form. Other
    files beside them (``caption/webvid/train_80k.json``, a subset of
    ``caption/webvid/train.json`` named in VideoChat2's training config, would repeat
    its captions) are not read and are named in ``_SUCCESS.skipped_files``; ``image/``
    subsets are not video and are not read.

    Human turn: VideoChat2's own loader uses ``QA[0]["i"]`` as the system instruction
    of the whole record and each entry's ``q`` as a user turn (``q == ""`` in caption
    sets: no user text). Here the instruction leads the human turn it belongs to:
    ``i + "\\n" + q``, or ``i`` alone when ``q`` is empty. In ``multiturn`` mode only the
    record's first entry carries it (the turns that follow are the same conversation);
    in ``split`` mode every row stands alone, so every entry gets it. A later entry
    with an empty ``q`` also gets it (it would have no human text otherwise). The
    ``query`` is ``q``, or the instruction when ``q`` is empty (captions). ``<video>``
    / ``<image>`` tokens are removed from the text.

    Optional ``start``/``end`` (seconds, both or neither) sample only that span.

    Keys: ``video/<task>/<subset>/<file>#<index>:<k>`` (the annotation file as found,
    record position in it, entry position in ``QA``): the dataset has no ids. A
    malformed record is one ``bad_annotation`` row ``video/<task>/<subset>/<file>#<index>``.

    Videos are not shipped. ``video`` is relative to a per-subset root in VideoChat2's
    config (``tgif/``, ``WebVid2M/``, ``clevrer/video_train/``, ...); like the recipe
    (``VideoChat2/videos/{video}``) this source expects one root, ``INPUT/videos``
    (``--videos``), with every subset's videos under it at their ``video`` path. TGIF
    videos are ``.gif``; PyAV decodes them.
    """

    name = "videochat2"
    layout = (
        "INPUT/video/<task>/<subset>/train.json (the data card's files)  [{video, QA: "
        "[{i, q, a}], start?, end?}]; "
        "videos: INPUT/videos/<video>"
    )
    annotation_files = {"train": ("video/*/*/train.json",)}
    videos_dir = "videos"

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        video = require(record, "video")
        qa = require(record, "QA", list)
        if not all(isinstance(entry, dict) for entry in qa):
            raise BadAnnotation("'QA' holds a non-object")
        span = _span(record)
        instruction = _clean(qa[0].get("i"), "i")
        multiturn = self.ctx.qa_mode == "multiturn"
        for k, entry in enumerate(qa):
            question = _clean(entry.get("q"), "q")
            answer = require(entry, "a")
            lead = instruction if k == 0 or not multiturn or not question else ""
            human = "\n".join(part for part in (lead, question) if part)
            if not human:
                raise BadAnnotation(f"QA[{k}] has neither an instruction nor a question")
            item_key = f"{unit}#{key}:{k}"
            yield Item(item_key, video, ((human, answer),), question or instruction, span=span)


def _clean(value: Any, name: str) -> str:
    """Instruction or question text without media tokens; missing means empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadAnnotation(f"{name!r} is not text: {value!r}")
    return strip_media_tokens(value)


def _span(record: dict[str, Any]) -> tuple[float, float] | None:
    has_start, has_end = "start" in record, "end" in record
    if has_start != has_end:
        raise BadAnnotation("'start' without 'end' (or the reverse)")
    if not has_start:
        return None
    return require_number(record, "start"), require_number(record, "end")
