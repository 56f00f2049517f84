"""MLVU: every task file, multiple choice and open-ended, videos per task folder, and
the seed script's bugs (seed 001, ``MLVU_transform.py``) kept out."""

from __future__ import annotations

import pytest

from tests.helpers.datasets import write_json, write_video
from vidray.sources.base import BadSplit

SOURCE = "mlvu"


def test_video_path_keeps_the_task_folder(harness, fixture, tmp_path):
    """Seed bug: ``f"{video_path}{item['video']}"`` with ``video_path="./MLVU/video"``
    yields ``./MLVU/videomovie101_66.mp4``: no separator and no task folder, though
    each task keeps its videos in ``MLVU/video/<task>/``. Here the same file name in
    two task folders gives two different videos."""
    root, _ = fixture
    videos = {c.id: s.video for s in harness.samples(root) for c in s.conversations}
    assert videos["mlvu:1_plotQA#0"] == "1_plotQA/movie101_66.mp4"
    assert videos["mlvu:8_sub_scene#0"] == "8_sub_scene/movie101_66.mp4"
    by_id = harness.rows_by_id(root, tmp_path / "out")
    assert by_id["mlvu:8_sub_scene#0"]["frames"] != by_id["mlvu:1_plotQA#0"]["frames"]


def test_incomplete_records_are_error_rows(harness, tmp_path):
    """Seed bug: ``if not all(k in item for k in ("question", "answer", "video")):
    continue`` drops incomplete records silently; here each is a ``bad_annotation``
    row named after its file and position."""
    write_json(
        tmp_path / "MLVU" / "json" / "9_summary.json",
        [
            {"video": "a.mp4", "question": "Summarize.", "duration": 3},
            {"question": "Summarize.", "answer": "x", "duration": 3},
            {"video": "a.mp4", "question": "Summarize.", "answer": "A man walks."},
        ],
    )
    write_video(tmp_path / "MLVU" / "video" / "9_summary" / "a.mp4", seconds=2.0)
    got = {s.id: (s.error[0] if s.error else None) for s in harness.samples(tmp_path)}
    assert got == {
        "mlvu:MLVU/json/9_summary.json#0": "bad_annotation",
        "mlvu:MLVU/json/9_summary.json#1": "bad_annotation",
        "mlvu:MLVU/json/9_summary.json#9_summary/a.mp4": None,
    }


def test_every_task_file_is_read_and_choices_use_the_run_template(harness, fixture):
    """The seed converts ``9_summary.json`` only; every task file is a source here, the
    multiple-choice ones rendered with ``--mc-template``."""
    root, _ = fixture
    template = "Q: {question}\nOptions:\n{options}\nAnswer with the letter."
    conv = harness.conversations(root, mc_template=template)
    assert {cid.split(":")[1].split("#")[0] for cid in conv} == {
        "1_plotQA",
        "2_needle",
        "8_sub_scene",
        "9_summary",
    }
    assert conv["mlvu:2_needle#0"].turns == (
        (
            "human",
            "<image>\nQ: What does the hand hold?\nOptions:\nA. A cup\nB. A pen\nC. A key\n"
            "Answer with the letter.",
        ),
        ("gpt", "C. A key"),
    )
    assert conv["mlvu:2_needle#0"].query == "What does the hand hold?"


def test_numeric_candidates_and_answers_are_text(harness, tmp_path):
    write_json(
        tmp_path / "MLVU" / "json" / "4_count.json",
        [
            {
                "video": "count_1.mp4",
                "duration": 3,
                "question": "How many times does the man jump?",
                "candidates": [2, 3, 4, 5],
                "answer": 4,
                "question_type": "count",
            }
        ],
    )
    (conv,) = [c for s in harness.samples(tmp_path) for c in s.conversations]
    assert conv.id == "mlvu:4_count#0"
    assert conv.turns[1] == ("gpt", "C. 4")


def test_one_fixed_dev_split_no_random_cut(harness, fixture):
    """Seed bug: ``random.shuffle`` without a seed cuts train/test differently on
    every run. MLVU ships a dev set only; here it is one split, ``dev``, with the same
    rows in the same order on every run."""
    root, _ = fixture
    first = harness.conversation_ids(root)
    assert first == harness.conversation_ids(root, split="dev")
    assert len(first) == 6  # the question on a missing video is found missing later
    for split in ("train", "test"):
        with pytest.raises(BadSplit):
            harness.samples(root, split=split)


def test_multiturn_gathers_the_questions_of_a_video(harness, fixture, tmp_path):
    root, _ = fixture
    by_id = harness.rows_by_id(root, tmp_path / "out", qa_mode="multiturn")
    values = [
        t["value"]
        for t in by_id["mlvu:MLVU/json/1_plotQA.json#1_plotQA/movie101_66.mp4"]["conversations"]
    ]
    assert len(values) == 4
    assert values[0].startswith("<image>\nWhat color is the main male character's coat?")
    assert values[1] == "C. Black"
    assert values[2] == (
        "Where does the story begin?\n"
        "Please choose the right answer from the following options:\nA. Bar\nB. Park"
    )
    assert values[3] == "B. Park"
    assert {"mlvu:2_needle#0", "mlvu:8_sub_scene#0", "mlvu:9_summary#0"} <= set(by_id)
