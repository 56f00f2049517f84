"""NExT-QA: open-ended and multiple-choice questions on whole videos (lmms-lab/NExTQA's
parquet configurations, and the original release's CSVs)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require

#: The multiple-choice options, in order.
OPTION_COLUMNS = ("a0", "a1", "a2", "a3", "a4")
#: The original CSVs' names -> the split in the key.
_CSV_SPLITS = {"train.csv": "train", "val.csv": "validation"}


class NextQA(AnnotationSource):
    """One row per question. The dataset's configurations are splits here: ``train``
    (OE train, the default), ``validation`` and ``test`` (OE: ``answer`` is the answer
    text), ``mc-test`` (MC test) and, from the original release's CSVs,
    ``mc-train`` and ``mc-validation`` (``dataset/nextqa/{train,val}.csv`` of the
    doc-doc/NExT-QA repository, the same columns as the MC parquet). Multiple choice:
    options ``a0``..``a4``, ``answer`` their index 0-4, rendered with
    ``--mc-template``. The row's ``query`` is the question.

    ``qid`` counts the questions of one video, and the OE and MC sets ask about the
    same videos, so the key is ``<config>/<split>:<video>:<qid>`` (``OE/train:...``,
    ``MC/test:...``, ``MC/train:...``).

    ``video`` is a number (int or string). The original archive, like its mirrors,
    stores ``NExTVideo/<dir>/<video>.mp4`` (the ``<dir>`` of ``map_vid_vidorID.json``,
    ``"2909445186": "0101/2909445186"``); lmms-eval expects ``NExTVideo/<video>.mp4``.
    A video is found by its stem anywhere under the videos root (one listing), any
    video suffix. The default root is ``INPUT/NExTVideo``, else ``INPUT/videos``.
    """

    name = "nextqa"
    layout = (
        "INPUT/OE/{train,validation,test}-*.parquet, INPUT/MC/test-*.parquet, "
        "INPUT/dataset/nextqa/{train,val}.csv  {video, question, answer, qid, type, MC: "
        "a0..a4}; videos: INPUT/NExTVideo/**/<video>.mp4 (or INPUT/videos/), found by stem"
    )
    annotation_files = {
        "train": ("OE/train-*.parquet",),
        "validation": ("OE/validation-*.parquet",),
        "test": ("OE/test-*.parquet",),
        "mc-train": ("dataset/nextqa/train.csv",),
        "mc-validation": ("dataset/nextqa/val.csv",),
        "mc-test": ("MC/test-*.parquet",),
    }
    videos_dir = "NExTVideo"
    videos_dir_fallbacks = ("videos",)
    find_videos_by_stem = True

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        if unit.endswith(".csv"):  # dataset/nextqa/{train,val}.csv: the MC release
            config, split = "MC", _CSV_SPLITS[posixpath.basename(unit)]
        else:
            config = posixpath.dirname(unit)
            split = posixpath.basename(unit).split("-", 1)[0]
        video = _number(record, "video")
        qid = _number(record, "qid")
        question = require(record, "question")
        item_key = f"{config}/{split}:{video}:{qid}"
        if config == "MC":
            options = [require(record, c) for c in OPTION_COLUMNS]
            prompt, answer = self.multiple_choice(
                question, options, [int(_number(record, "answer"))]
            )
            yield Item(item_key, video, ((prompt, answer),), question)
        else:
            answer = _text(record, "answer")
            yield Item.single(item_key, video, question, answer)


def _number(record: dict, name: str) -> str:
    """A non-negative integer stored as a number or a string of digits, as text."""
    value = record.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return value.strip()
    raise BadAnnotation(f"{name!r} is missing or not a non-negative integer: {value!r}")


def _text(record: dict, name: str) -> str:
    """Open answers are words, but a few are numbers ("3"): take those as text too."""
    value = record.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number(record, name)
    return require(record, name)
