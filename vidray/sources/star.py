"""STAR (situated reasoning on Charades): multiple choice on an annotated span."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import option_index, require, require_number


class Star(AnnotationSource):
    """One multiple-choice question per record, sampled inside ``[start, end]`` seconds
    of the Charades video (no clip file is cut). ``answer`` is the text of the correct
    choice; it is matched to its letter, and the row's ``query`` is the question."""

    name = "star"
    layout = (
        "INPUT/STAR_{train,val}.json  [{question_id, question, video_id, start, end, "
        "answer, choices: [{choice_id, choice}]}]; videos: INPUT/videos/<video_id>.mp4"
    )
    annotation_files = {"train": ("STAR_train.json",), "val": ("STAR_val.json",)}

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        qid = require(record, "question_id")
        question = require(record, "question")
        video = require(record, "video_id")
        start, end = require_number(record, "start"), require_number(record, "end")
        choices = require(record, "choices", list)
        if not all(isinstance(c, dict) for c in choices):
            raise BadAnnotation("'choices' holds a non-object")
        choices = sorted(choices, key=lambda c: c.get("choice_id", 0))
        options = [require(c, "choice") for c in choices]
        answer = option_index(options, require(record, "answer"))
        prompt, reply = self.multiple_choice(question, options, [answer])
        yield Item(qid, f"{video}.mp4", ((prompt, reply),), question, span=(start, end))
