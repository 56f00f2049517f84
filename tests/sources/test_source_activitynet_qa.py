"""ActivityNet-QA: the q/a join, video lookup by name, splits, and the seed script's
bugs (seed 001, ``generate_llama_json_limit_frames.py``) kept out."""

from __future__ import annotations

import pytest

from tests.helpers.datasets import reasons, turn_values, write_json, write_video
from vidray.io import storage
from vidray.sources.base import BadSplit, Sample

SOURCE = "activitynet-qa"


def turns(sample: Sample) -> dict[str, tuple[tuple[str, str], ...]]:
    return {c.id: c.turns for c in sample.conversations}


def test_video_is_the_exact_name_not_a_prefix_match(harness, tmp_path):
    """Seed bug: ``file.startswith(video_name)`` takes the first file whose name merely
    begins with the id (``v_abc_trimmed.mp4`` for ``v_abc``) and reads the wrong
    video; here a missing video stays missing and a shared prefix does not matter."""
    write_video(tmp_path / "videos" / "v_abcdefghijk_trimmed.mp4", seconds=2.0)
    write_video(tmp_path / "videos" / "v_zyxwvutsrqp.mp4", seconds=2.0)
    write_video(tmp_path / "videos" / "v_zyxwvutsrqp0.mp4", seconds=2.0, seed=1)
    write_json(
        tmp_path / "dataset" / "train_q.json",
        [
            {"video_name": "abcdefghijk", "question": "is it sunny", "question_id": "v_abc_1"},
            {"video_name": "zyxwvutsrqp", "question": "is it sunny", "question_id": "v_zyx_1"},
        ],
    )
    write_json(
        tmp_path / "dataset" / "train_a.json",
        [
            {"answer": "yes", "type": 3, "question_id": "v_abc_1"},
            {"answer": "no", "type": 3, "question_id": "v_zyx_1"},
        ],
    )
    found = harness.samples(tmp_path)
    errors = {c.id: s.error[0] for s in found if s.error for c in s.conversations}
    assert errors == {"activitynet-qa:v_abc_1": "missing_video"}
    videos = {c.id: s.video for s in found if not s.error for c in s.conversations}
    assert videos == {"activitynet-qa:v_zyx_1": "v_zyxwvutsrqp.mp4"}


def test_question_without_answer_is_an_error_row(harness, fixture):
    """Seed bug: ``if question_id in answer_lookup`` drops an unanswered question
    without a trace; here it is a ``bad_annotation`` row that names it."""
    root, _ = fixture
    by_id = {s.id: s for s in harness.samples(root)}
    unanswered = by_id["activitynet-qa:dataset/train_q.json#v_okC18bPTils_7"]
    assert unanswered.error == (
        "bad_annotation",
        "dataset/train_a.json has no answer for v_okC18bPTils_7",
    )


def test_missing_answer_file_makes_every_question_an_error_row(harness, tmp_path):
    write_json(
        tmp_path / "dataset" / "val_q.json",
        [{"video_name": "x", "question": "why", "question_id": f"v_x_{i}"} for i in range(2)],
    )
    got = {s.id: s.error for s in harness.samples(tmp_path, split="val")}
    assert got == {
        f"activitynet-qa:dataset/val_q.json#v_x_{i}": (
            "bad_annotation",
            "no answer file dataset/val_a.json",
        )
        for i in range(2)
    }


def test_question_mark_is_appended_once(harness, fixture):
    """Seed bug: ``f"<video>{question}?"`` appends ``?`` blindly, so a question that
    has one ends in ``??`` and trailing spaces end up before it."""
    root, _ = fixture
    conv = harness.conversations(root)
    assert conv["activitynet-qa:v_Mzt-E6pxuUI_5"].turns[0] == (
        "human",
        "<image>\nwhat color is the child's shirt?",
    )
    assert conv["activitynet-qa:v_okC18bPTils_0"].query == "what is the man in white doing?"
    assert conv["activitynet-qa:v_okC18bPTils_3"].turns[1] == ("gpt", "no")


def test_videos_are_listed_once_not_walked_per_question(harness, fixture, monkeypatch):
    """Seed bug: ``os.walk(video_directory)`` once per question (58k walks of a
    folder of 20k videos); here one listing serves every question of a file."""
    root, _ = fixture
    calls: list[str] = []
    real = storage.list_files

    def counting(loc, *args, **kwargs):
        calls.append(loc.path)
        return real(loc, *args, **kwargs)

    monkeypatch.setattr(storage, "list_files", counting)
    assert len([s for s in harness.samples(root) if not s.error]) == 3
    assert calls.count(str(root / "videos")) == 1


def test_duration_rule_is_the_shared_min_duration_option(harness, fixture, tmp_path):
    """The seed keeps videos longer than 20 s by probing each one; here that is
    ``--min-duration`` of every run: shorter videos become ``filtered_duration``
    rows, one per question."""
    root, _ = fixture
    rows, errors = harness.convert(root, tmp_path / "out", min_duration=5.0)
    assert {r["id"] for r in rows} == {
        "activitynet-qa:v_okC18bPTils_3",
        "activitynet-qa:v_okC18bPTils_0",
    }
    reason = reasons(errors)
    assert reason["activitynet-qa:v_ALjodjboELk_2"] == "filtered_duration"
    assert reason["activitynet-qa:v_Mzt-E6pxuUI_5"] == "filtered_duration"


def test_splits_read_their_own_q_and_a_files(harness, fixture):
    root, _ = fixture
    val = [c for s in harness.samples(root, split="val") for c in s.conversations]
    assert [(c.id, c.turns[1][1]) for c in val] == [("activitynet-qa:v_okC18bPTils_11", "yes")]
    test = [c for s in harness.samples(root, split="test") for c in s.conversations]
    assert [(c.id, c.turns[1][1]) for c in test] == [("activitynet-qa:v_ALjodjboELk_4", "2")]
    with pytest.raises(BadSplit):
        harness.samples(root, split="dev")


def test_multiturn_gathers_the_questions_of_a_video(harness, fixture, tmp_path):
    root, _ = fixture
    by_id = harness.rows_by_id(root, tmp_path / "out", qa_mode="multiturn")
    row = by_id["activitynet-qa:dataset/train_q.json#v_okC18bPTils.mp4"]
    assert turn_values(row) == [
        "<image>\nare all the people in the video men?",
        "no",
        "what is the man in white doing?",
        "dance",
    ]
    assert row["query"] == "are all the people in the video men?"
    # a video with one question keeps the question's id
    assert "activitynet-qa:v_ALjodjboELk_2" in by_id


def test_row_ids_are_the_question_ids_and_stable(harness, fixture):
    root, _ = fixture
    first = harness.conversation_ids(root)
    assert first == harness.conversation_ids(root, seed=7)
    assert sorted(first) == sorted(
        f"activitynet-qa:{q}"
        for q in (
            "v_okC18bPTils_3",
            "v_okC18bPTils_0",
            "v_ALjodjboELk_2",
            "v_Mzt-E6pxuUI_5",
            "v__ucD-3rUWWE_3",  # its video is missing: an error row with this id
        )
    )


def test_duplicate_question_id_is_an_error_row_keyed_by_position(harness, tmp_path):
    write_json(
        tmp_path / "dataset" / "train_q.json",
        [{"video_name": "x", "question": "why", "question_id": "v_x_1"}] * 2,
    )
    write_json(tmp_path / "dataset" / "train_a.json", [{"answer": "a", "question_id": "v_x_1"}])
    write_video(tmp_path / "videos" / "v_x.mp4", seconds=2.0)
    got = {s.id: s.error for s in harness.samples(tmp_path)}
    assert got == {
        "activitynet-qa:dataset/train_q.json#v_x.mp4": None,
        "activitynet-qa:dataset/train_q.json#1": (
            "bad_annotation",
            "question_id 'v_x_1' appears twice in dataset/train_q.json",
        ),
    }
