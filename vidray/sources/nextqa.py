"""NExT-QA (lmms-lab/NExTQA): open-ended and multiple-choice questions on whole videos."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from vidray.sources.base import AnnotationSource, BadAnnotation, Item, require

#: The multiple-choice options, in order.
OPTION_COLUMNS = ("a0", "a1", "a2", "a3", "a4")


class NextQA(AnnotationSource):
    """One row per question. The dataset's two configurations are splits here:
    ``train`` (OE train, the default), ``validation`` and ``test`` (OE: ``answer`` is the
    answer text) and ``mc-test`` (MC test: options ``a0``..``a4``, ``answer`` their index
    0-4, rendered with ``--mc-template``). The row's ``query`` is the question.

    ``qid`` counts the questions of one video, and the OE and MC test sets ask about the
    same videos, so the key is ``<config>/<split>:<video>:<qid>`` (``OE/train:...``,
    ``MC/test:...``). ``video`` is a number (int or string) naming
    ``videos/<video>.mp4``.
    """

    name = "nextqa"
    layout = (
        "INPUT/OE/{train,validation,test}-*.parquet, INPUT/MC/test-*.parquet  {video, question, "
        "answer, qid, type, MC: a0..a4}; videos: INPUT/videos/<video>.mp4"
    )
    annotation_files = {
        "train": ("OE/train-*.parquet",),
        "validation": ("OE/validation-*.parquet",),
        "test": ("OE/test-*.parquet",),
        "mc-test": ("MC/test-*.parquet",),
    }

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
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
            yield Item(item_key, f"{video}.mp4", ((prompt, answer),), question)
        else:
            answer = _text(record, "answer")
            yield Item.single(item_key, f"{video}.mp4", question, answer)


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
