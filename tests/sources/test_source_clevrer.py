"""CLEVRER: every choice is an option, every correct choice is in the answer, open
answers come from the question; splits, multi-turn and stable ids."""

from __future__ import annotations

import json

import pytest

from tests.helpers.datasets import clevrer, reasons, write_json
from vidray.io import storage
from vidray.sources import SourceContext, get
from vidray.sources.base import BadSplit

SOURCE = "clevrer"


def test_every_choice_is_an_option(harness, root):
    """Seed bug: the options were built from the first choice only."""
    prompt = harness.conversations(root)["clevrer:0:2"].turns[0][1]
    lines = prompt.split("\n")
    assert lines[-4:] == [
        "A. The presence of the red cylinder",
        "B. The presence of the blue sphere",
        "C. The collision between the cube and the cylinder",
        "D. The rubber cube's entering the scene",
    ]


def test_every_correct_choice_is_in_the_answer(harness, root):
    """Seed bug: several correct choices were ignored (the first one was kept)."""
    answer = harness.conversations(root)["clevrer:0:2"].turns[1][1]
    assert answer == (
        "A. The presence of the red cylinder\nC. The collision between the cube and the cylinder"
    )


def test_open_answer_comes_from_the_question(harness, tmp_path):
    """Seed bug: the descriptive answer was read from the scene, not the question."""
    scene = clevrer.scene(7, [clevrer.descriptive(4, "What shape is it?", "sphere")])
    write_json(tmp_path / "train.json", [{**scene, "answer": "not the answer"}])
    conv = harness.conversations(tmp_path)["clevrer:7:4"]
    assert conv.turns == (("human", "<image>\nWhat shape is it?"), ("gpt", "sphere"))
    assert conv.query == "What shape is it?"


def test_choice_answers_must_be_correct_or_wrong(tmp_path):
    question = clevrer.choice(0, "predictive", "What next?", [("a", "correct"), ("b", "maybe")])
    write_json(tmp_path / "train.json", [clevrer.scene(0, [question])])
    src = get("clevrer")
    (sample,) = src.samples(storage.location(str(tmp_path)), "train.json")
    assert sample.error is not None and sample.error[0] == "bad_annotation"
    assert sample.id == "clevrer:train.json#0/0"


def test_splits_and_their_video_folders(harness, root):
    src = get("clevrer", SourceContext.of(split="validation"))
    loc = storage.location(str(root))
    assert src.units(loc) == ["validation.json"]
    assert src.videos_location(loc).uri.endswith("/video_validation")
    assert get("clevrer").units(loc) == ["train.json"]
    assert get("clevrer").videos_location(loc).uri.endswith("/video_train")
    assert set(harness.conversations(root, split="validation")) == {
        "clevrer:10000:0",
        "clevrer:10000:1",
    }
    with pytest.raises(BadSplit, match="train, validation"):
        get("clevrer", SourceContext.of(split="val")).units(loc)
    # --videos wins over the per-split default
    custom = get("clevrer", SourceContext.of(split="validation", videos=str(root / "elsewhere")))
    assert custom.videos_location(loc).uri.endswith("/elsewhere")


def test_validation_converts_with_the_validation_videos(harness, root, tmp_path):
    rows, errors = harness.convert(root, tmp_path / "out", split="validation")
    assert errors == []
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"clevrer:10000:0", "clevrer:10000:1"}
    assert by_id["clevrer:10000:1"]["conversations"][1]["value"] == (
        "A. The sphere collides with the cylinder"
    )


def test_multiturn_one_row_per_scene(harness, root, tmp_path):
    rows, errors = harness.convert(root, tmp_path / "out", qa_mode="multiturn")
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {
        "clevrer:train.json#video_00000-01000/video_00000.mp4",
        "clevrer:1001:0",  # alone on its video: keeps its own id
    }
    turns = by_id["clevrer:train.json#video_00000-01000/video_00000.mp4"]["conversations"]
    assert [t["from"] for t in turns] == ["human", "gpt"] * 4
    assert [t["value"] for t in turns[:4]] == [
        "<image>\nWhat is the shape of the gray object?",
        "cube",
        "How many metal objects are moving?",
        "2",
    ]
    assert turns[7]["value"] == "B. The sphere and the cylinder collide"
    assert reasons(errors) == {
        "clevrer:2:0": "missing_video",
        "clevrer:train.json#1/1": "bad_annotation",
        "clevrer:train.json#3/0": "bad_annotation",
    }


def test_ids_are_the_datasets_own_and_stable(harness, fresh):
    root, _ = fresh
    first = harness.conversations(root)
    assert set(first) == {
        "clevrer:0:0",
        "clevrer:0:1",
        "clevrer:0:2",
        "clevrer:0:3",
        "clevrer:1001:0",
        "clevrer:2:0",
    }
    assert harness.conversations(root) == first
    # the same scenes and questions in another order keep their ids and text
    doc = json.loads((root / "train.json").read_text())
    for s in doc:
        s["questions"].reverse()
    doc.reverse()
    (root / "train.json").write_text(json.dumps(doc))
    assert harness.conversations(root) == first
