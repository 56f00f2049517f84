"""CLEVRER: descriptive and multiple-choice questions on synthetic collision videos."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from vidray.io import storage
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import answer_text, require

#: Videos are published 1000 to a folder: ``video_00000-01000/video_00000.mp4``.
FOLDER_SIZE = 1000


class Clevrer(AnnotationSource):
    """One row per question of a scene; every question is on the whole video.

    - descriptive questions: the answer is the question's own ``answer`` (the seed
      script took it from the scene, which has none);
    - explanatory / predictive / counterfactual questions: every ``choices`` entry is
      an option, ordered by ``choice_id``, and the answer lists **every** choice marked
      ``"correct"`` (several often are; the seed kept the first choice as the only
      option and the first correct one as the answer).

    The row's ``query`` is the question. Keys are ``<scene_index>:<question_id>``, unique
    across splits since validation scenes are numbered 10000 on. Splits are named after
    the published files: ``train`` and ``validation`` (no ``val`` alias; the test file
    withholds its answers and is not read).

    Videos are not named in the JSON's folder structure: the range folder comes from
    ``scene_index`` (1000 videos a folder), the file name from ``video_filename``. The
    default videos root is the folder the published zip of the split is extracted to,
    ``INPUT/video_train`` or ``INPUT/video_validation`` (``--videos`` overrides it).

    A scene is read one question at a time (``records``), so a malformed question
    becomes one ``bad_annotation`` row (``<file>#<scene position>/<question position>``)
    instead of taking the scene's other questions with it.
    """

    name = "clevrer"
    layout = (
        "INPUT/{train,validation}.json  [{scene_index, video_filename, questions: "
        "[{question_id, question, answer | choices: [{choice_id, choice, answer}]}]}]; "
        "videos: INPUT/video_<split>/video_00000-01000/video_00000.mp4"
    )
    annotation_files = {"train": ("train.json",), "validation": ("validation.json",)}
    #: Each split's published video zip is extracted to its own folder.
    videos_dir = "video_{split}"

    def records(self, loc: storage.Location, unit: str) -> Iterator[tuple[str, Any]]:
        """Each scene split into one-question scenes, keyed ``<scene>/<question>`` by
        position; a scene without a question list is passed on whole (and rejected)."""
        for key, scene in super().records(loc, unit):
            questions = scene.get("questions") if isinstance(scene, dict) else None
            if not isinstance(questions, list) or not questions:
                yield key, scene
                continue
            for j, question in enumerate(questions):
                yield f"{key}/{j}", {**scene, "questions": [question]}

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        index = require(record, "scene_index", int)
        if isinstance(index, bool) or index < 0:
            raise BadAnnotation(f"'scene_index' is not a scene number: {index!r}")
        lo = index // FOLDER_SIZE * FOLDER_SIZE
        video = f"video_{lo:05d}-{lo + FOLDER_SIZE:05d}/{require(record, 'video_filename')}"
        for q in require(record, "questions", list):
            qid = require(q, "question_id", (int, str))
            question = require(q, "question")
            if "choices" in q:
                prompt, answer = self._choice(question, require(q, "choices", list))
            else:
                prompt, answer = question, answer_text(q, "answer")
            yield Item(f"{index}:{qid}", video, ((prompt, answer),), question)

    def _choice(self, question: str, choices: list[Any]) -> tuple[str, str]:
        if not all(isinstance(c, dict) for c in choices):
            raise BadAnnotation("'choices' holds a non-object")
        choices = sorted(choices, key=lambda c: require(c, "choice_id", int))
        options = [require(c, "choice") for c in choices]
        marks = [require(c, "answer").lower() for c in choices]
        if any(m not in ("correct", "wrong") for m in marks):
            raise BadAnnotation(f"a choice's answer is not 'correct' or 'wrong': {marks}")
        correct = [i for i, m in enumerate(marks) if m == "correct"]
        return self.multiple_choice(question, options, correct)
