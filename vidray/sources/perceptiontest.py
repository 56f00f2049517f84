"""Perception Test (validation): multiple choice on whole videos."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vidray.io import storage
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation, UnsupportedLayout
from vidray.sources.text import require


class PerceptionTest(AnnotationSource):
    """One multiple-choice row per question of the validation parquet, rendered with
    ``--mc-template``; the row's ``query`` is the question.

    ``answer_id`` is stored as a string ("2"): it is parsed as an integer index into
    ``options`` (the recipe indexed the options with the string itself). Only the
    validation split is offered: the test parquet withholds its answers, so
    ``--split test`` is refused. ``question_id`` counts the questions of one video, so
    the key is ``<video_name>:<question_id>``.

    Videos are found by stem under ``INPUT/videos``, any video suffix in any case
    (releases hold ``.mp4`` and ``.MP4``; lmms-eval falls back to the latter).

    Only the hub parquet (lmms-lab/PerceptionTest_Val) is read. google-deepmind's own
    JSON release (per-video ``{metadata, mc_question: [...]}`` objects) is refused with
    a one-line error naming the supported form, rather than read as nothing.
    """

    name = "perceptiontest"
    layout = (
        "INPUT/mc_question_val/validation-*.parquet  {video_name, question, question_id, "
        'options, answer_id ("2"), area, reasoning, tag}; videos: INPUT/videos/<video_name>.mp4 '
        "(any case); google-deepmind's JSON release is refused"
    )
    annotation_files = {"validation": ("mc_question_val/validation-*.parquet",)}
    default_split = "validation"
    find_videos_by_stem = True

    def units(self, loc: storage.Location) -> list[str]:
        found = super().units(loc)
        if not found:
            other = storage.list_files(loc, (".json",), maxdepth=2)
            if other:
                parquet = self.annotation_files["validation"][0]
                raise UnsupportedLayout(
                    f"perceptiontest reads the hub parquet INPUT/{parquet} "
                    f"(lmms-lab/PerceptionTest_Val), not the JSON release ({other[0]}); "
                    "download the parquet and its videos into INPUT"
                )
        return found

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        video = require(record, "video_name")
        qid = _text_id(record, "question_id")
        question = require(record, "question")
        options = require(record, "options", list)
        prompt, answer = self.multiple_choice(question, options, [_index(record, "answer_id")])
        yield Item(f"{video}:{qid}", video, ((prompt, answer),), question)


def _text_id(record: dict, name: str) -> str:
    value = record.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return require(record, name)


def _index(record: dict, name: str) -> int:
    """An option index stored as an integer or as a string of digits."""
    value = record.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    raise BadAnnotation(f"{name!r} is not an option index: {value!r}")
