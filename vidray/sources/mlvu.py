"""MLVU: nine long-video tasks, one JSON file each, videos in a folder per task."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any, ClassVar

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import option_index, require, require_text


class Mlvu(AnnotationSource):
    """One row per question of every task file. Multiple-choice tasks (plot QA,
    needle, ego, count, order, anomaly, topic) render ``candidates`` with the run's
    ``--mc-template``; ``answer`` is the text of the correct candidate. The
    generation tasks ``8_sub_scene`` and ``9_summary`` are open-ended: question and
    free-text answer. The video is ``MLVU/video/<task>/<video>``, ``<task>`` being
    the JSON file's stem, since the same file name can occur in two task folders.

    MLVU publishes a dev set only (its test set withholds answers), so the one
    split is ``dev``: every task file, no random train/test cut (the recipe's random
    split could not be reproduced)."""

    name = "mlvu"
    layout = (
        "INPUT/MLVU/json/<task>.json (1_plotQA ... 9_summary) [{video, duration, question, "
        "candidates?, answer, question_type}]; videos: INPUT/MLVU/video/<task>/<video>"
    )
    annotation_files = {"dev": ("MLVU/json/*.json",)}
    default_split = "dev"
    videos_dir = "MLVU/video"
    #: Task names (file stems without their number) whose answers are free text.
    open_ended: ClassVar[frozenset[str]] = frozenset({"sub_scene", "summary"})

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        task = posixpath.splitext(posixpath.basename(unit))[0]
        video = f"{task}/{require(record, 'video')}"
        question = require_text(require(record, "question"), "question")
        # counts may be written as numbers; they are matched and shown as text
        answer = require_text(str(require(record, "answer", (str, int, float))), "answer")
        if task.split("_", 1)[-1] in self.open_ended:
            yield Item.single(f"{task}#{key}", video, question, answer)
            return
        candidates = require(record, "candidates", list)
        if not all(isinstance(c, str | int | float) for c in candidates):
            raise BadAnnotation("'candidates' holds a non-text option")
        options = [str(c) for c in candidates]
        prompt, reply = self.multiple_choice(question, options, [option_index(options, answer)])
        yield Item(f"{task}#{key}", video, ((prompt, reply),), question)
