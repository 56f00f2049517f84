"""EgoTaskQA: open questions on an interval of an egocentric video."""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable
from typing import Any

from vidray.io import storage
from vidray.sources.base import (
    AnnotationSource,
    BadAnnotation,
    Item,
    MissingVideo,
    answer_text,
    require,
)


class EgoTaskQA(AnnotationSource):
    """One row per question of ``qa/direct`` and ``qa/indirect`` (both are read for a
    split), with its short open ``answer``; the row's ``query`` is the question.

    ``interval`` is ``"<video>|P1|<start>|<end>"``, a frame range. The recipe reads a
    clip cut to it, ``qa_videos/<interval>.mp4`` (``|`` in the file name). One listing
    of the videos root (cached) decides, per question:

    - ``<interval>.mp4`` exists: that clip, whole;
    - else ``<video>.mp4`` exists (``video`` = the interval's first field): the full
      video, sampled inside ``span=(start, end)`` in frames (``span_unit="frame"``,
      converted with the stream's frame rate; a range past the end is ``bad_span``);
    - else a ``missing_video`` row for the question.

    Either file is found by its name anywhere under the root. Keys are
    ``<direct|indirect>/<split>:<question_id>``: that ``question_id`` is unique across
    the two folders and the splits is not confirmed, so the file is part of the key.
    """

    name = "egotaskqa"
    layout = (
        "INPUT/qa/{direct,indirect}/{train,val,test}_qas.json  [{question_id, question, "
        "answer, interval: '<video>|P1|<start>|<end>'}]; videos: INPUT/qa_videos/"
        "<interval>.mp4 (clips) or INPUT/qa_videos/<video>.mp4 (full, spans in frames)"
    )
    annotation_files = {
        split: (f"qa/direct/{split}_qas.json", f"qa/indirect/{split}_qas.json")
        for split in ("train", "val", "test")
    }
    videos_dir = "qa_videos"

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        qid = require(record, "question_id", (int, str))
        if isinstance(qid, bool):
            raise BadAnnotation(f"'question_id' is not an id: {qid!r}")
        question = require(record, "question")
        answer = answer_text(record, "answer")
        interval = require(record, "interval")
        fields = interval.split("|")
        if len(fields) != 4 or not fields[0]:
            raise BadAnnotation(f"interval {interval!r} is not '<video>|P1|<start>|<end>'")
        try:
            start, end = int(fields[2]), int(fields[3])
        except ValueError:
            raise BadAnnotation(f"interval {interval!r} has a non-integer frame") from None
        # ``qa/direct/train_qas.json`` -> ``direct/train``
        folder = posixpath.basename(posixpath.dirname(unit))
        split = posixpath.basename(unit).removesuffix("_qas.json")
        # The video is the clip's name here; ``resolve`` decides between clip and span.
        yield Item(
            f"{folder}/{split}:{qid}",
            f"{interval}.mp4",
            ((question, answer),),
            question,
            span=(start, end),
            span_unit="frame",
        )

    def resolve(self, loc: storage.Location, item: Item) -> Item:
        clip = self.find_video(loc, [item.video])
        if clip is not None:
            return dataclasses.replace(item, video=clip, span=None, span_unit="s")
        full_name = item.video.split("|", 1)[0] + ".mp4"
        full = self.find_video(loc, [full_name])
        if full is not None:
            return dataclasses.replace(item, video=full)
        raise MissingVideo(
            item.video, f"neither the clip {item.video!r} nor the video {full_name!r} exists"
        )
