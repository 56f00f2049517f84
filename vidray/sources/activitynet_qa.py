"""ActivityNet-QA: open-ended questions on whole ActivityNet videos, answers in a
second file joined on ``question_id``."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from vidray.io import storage
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require, require_text


def v_prefix_variants(name: str) -> tuple[str, str]:
    """``name``, then ``name`` with ActivityNet's ``v_`` prefix toggled: annotation
    files and downloaded video files disagree about the prefix (the official videos
    are ``v_<youtube id>.<ext>``, ActivityNet-QA's ``video_name`` has no prefix,
    mirrors strip it)."""
    return name, name[2:] if name.startswith("v_") else f"v_{name}"


@dataclass(frozen=True)
class Joined:
    """A question record with the answer record of the same ``question_id`` (None when
    the answer file lacks it; ``why`` then says what is missing)."""

    question: Any
    answer: Any
    why: str = ""
    #: Another question of the file already has this ``question_id``.
    duplicate: bool = False


class ActivityNetQA(AnnotationSource):
    """One row per question: the whole video, the question (whitespace trimmed, with
    the ``?`` the dataset leaves out appended once) and the answer from the matching
    ``*_a.json``. A question without an answer becomes a ``bad_annotation`` row, never
    dropped. ``video_name`` is matched to a file of any video extension by one listing
    of the videos root, with or without the ``v_`` prefix: the published q files have
    none, formats.md says they have one, ActivityNet's own files have one; all are
    accepted. The recipe's 20 s minimum is ``--min-duration 20`` of the run, not a rule
    of this source."""

    name = "activitynet-qa"
    layout = (
        "INPUT/dataset/{train,val,test}_q.json [{video_name, question, question_id}] + "
        "{split}_a.json [{answer, type, question_id}]; "
        "videos: INPUT/videos/[v_]<video_name>.{mp4,mkv,webm}"
    )
    companion_files = ("dataset/*_a.json",)
    annotation_files = {
        "train": ("dataset/train_q.json",),
        "val": ("dataset/val_q.json",),
        "test": ("dataset/test_q.json",),
    }
    find_videos_by_stem = True

    def records(self, loc: storage.Location, unit: str) -> Iterator[tuple[str, Any]]:
        answers_file = posixpath.join(
            posixpath.dirname(unit), posixpath.basename(unit).replace("_q.json", "_a.json")
        )
        answers, why = self._answers(loc, answers_file)
        seen: set[str] = set()
        for index, record in super().records(loc, unit):
            if isinstance(record, BadAnnotation):
                yield index, record
                continue
            qid = record.get("question_id") if isinstance(record, dict) else None
            if not isinstance(qid, str) or not qid.strip() or qid in seen:
                # keyed by position: the row (error) id must stay unique
                yield index, Joined(record, None, why, duplicate=qid in seen)
                continue
            seen.add(qid)
            answer = answers.get(qid)
            yield qid, Joined(record, answer, why or f"{answers_file} has no answer for {qid}")

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        joined: Joined = record
        qid = require(joined.question, "question_id")
        if joined.duplicate:
            raise BadAnnotation(f"question_id {qid!r} appears twice in {unit}")
        video = require(joined.question, "video_name")
        question = require_text(require(joined.question, "question"), "question")
        if not question.endswith("?"):
            question += "?"
        if joined.answer is None:
            raise BadAnnotation(joined.why)
        # answers are strings in the published files; a bare number is taken as text
        answer = require(joined.answer, "answer", (str, int, float))
        yield Item.single(qid, video, question, require_text(str(answer), "answer"))

    def video_names(self, item: Item) -> tuple[str, str]:
        return v_prefix_variants(item.video)

    def _answers(self, loc: storage.Location, rel: str) -> tuple[dict[str, Any], str]:
        """question_id -> answer record of ``rel``, and why every lookup would fail
        (empty when the file was read)."""
        try:
            doc = self.read_json(loc, rel)
        except FileNotFoundError:
            return {}, f"no answer file {rel}"
        except BadAnnotation as e:
            return {}, f"{rel}: {e}"
        if not isinstance(doc, list):
            return {}, f"{rel} is a JSON {type(doc).__name__}, not a list"
        answers: dict[str, Any] = {}
        for record in doc:
            if isinstance(record, dict) and isinstance(record.get("question_id"), str):
                answers.setdefault(record["question_id"], record)
        return answers, ""
