"""MSR-VTT: caption rows in the 9k / 1k-A retrieval splits, seeded instructions."""

from __future__ import annotations

import json
import shutil

from tests.helpers.datasets import write_json
from vidray import prompts

SOURCE = "msrvtt"
POOL = tuple(f"Instruction number {i}." for i in range(40))


def test_caption_instructions_are_seeded_per_row(harness, tmp_path):
    """Seed bug (every caption source): ``random.sample(prompts, 1)`` without a seed,
    so no run can be reproduced. Here the instruction is drawn from the row id and
    ``--seed`` alone: the same on every run and whatever the order of the records."""
    sentences = [
        {"caption": f"caption {i}", "video_id": f"video{i % 4}", "sen_id": i} for i in range(24)
    ]
    videos = [{"video_id": f"video{i}", "split": "train"} for i in range(4)]
    write_json(tmp_path / "a" / "MSRVTT_data.json", {"videos": videos, "sentences": sentences})
    write_json(
        tmp_path / "b" / "MSRVTT_data.json", {"videos": videos, "sentences": sentences[::-1]}
    )
    first = harness.conversations(tmp_path / "a", prompts=POOL, seed=3)
    assert len(first) == 24
    for cid, conv in first.items():
        assert conv.query == prompts.draw(POOL, cid, 3)
        assert conv.turns[0] == ("human", f"<image>\n{conv.query}")
    assert {
        c: v.query for c, v in harness.conversations(tmp_path / "a", prompts=POOL, seed=3).items()
    } == {c: v.query for c, v in first.items()}
    reordered = harness.conversations(tmp_path / "b", prompts=POOL, seed=3)
    assert {c: v.query for c, v in reordered.items()} == {c: v.query for c, v in first.items()}
    other = harness.conversations(tmp_path / "a", prompts=POOL, seed=4)
    assert any(other[c].query != first[c].query for c in first)


def test_train_is_the_9k_list(harness, fixture):
    root, _ = fixture
    conv = harness.conversations(root)
    # video1 is "validate" in the JSON but in the 9k list; video4 is "train" but not
    assert sorted(conv) == [
        "msrvtt:video0:0",
        "msrvtt:video0:1",
        "msrvtt:video1:2",
        "msrvtt:video3:4",
    ]
    assert conv["msrvtt:video1:2"].turns[1] == ("gpt", "a cartoon dog runs across a field")


def test_train_without_the_9k_list_is_the_json_train_split(harness, fixture, tmp_path):
    root, _ = fixture
    shutil.copy(root / "MSRVTT_data.json", tmp_path / "MSRVTT_data.json")
    assert sorted(harness.conversations(tmp_path)) == [
        "msrvtt:video0:0",
        "msrvtt:video0:1",
        "msrvtt:video3:4",
        "msrvtt:video4:6",
    ]


def test_val_and_test_splits(harness, fixture):
    root, _ = fixture
    val = harness.conversations(root, split="val")
    assert sorted(val) == ["msrvtt:video1:2"]
    # the 1k-A test set: one sentence per clip from the JSFUSION csv, commas included
    (test,) = [s for s in harness.samples(root, split="test")]
    assert test.video == "video2.mp4"
    assert [(c.id, c.turns[1][1]) for c in test.conversations] == [
        ("msrvtt:video2:ret0", "a man, smiling, talks to the camera")
    ]


def test_json_start_and_end_times_are_not_a_span(harness, fixture):
    """``start time`` / ``end time`` place the clip in its YouTube source; the clip
    files are cut already, so the whole clip is sampled."""
    root, _ = fixture
    data = json.loads((root / "MSRVTT_data.json").read_text())
    assert data["videos"][0]["start time"] == 137.72
    assert all(s.clip == (None, None) for s in harness.samples(root) if not s.error)


def test_multiturn_gathers_the_captions_of_a_clip(harness, fixture, tmp_path):
    root, _ = fixture
    by_id = harness.rows_by_id(root, tmp_path / "out", qa_mode="multiturn")
    turns = by_id["msrvtt:MSRVTT_data.json#video0.mp4"]["conversations"]
    assert [t["value"] for t in turns[1::2]] == [
        "a man is playing a guitar on stage",
        "a musician performs a song",
    ]
    first = prompts.draw(prompts.BUILTIN_PROMPTS, "msrvtt:video0:0", 0)
    assert turns[0]["value"] == f"<image>\n{first}"
    assert by_id["msrvtt:MSRVTT_data.json#video0.mp4"]["query"] == first
    assert "msrvtt:video1:2" in by_id


def test_sentence_without_sen_id_is_keyed_by_position(harness, tmp_path):
    write_json(
        tmp_path / "MSRVTT_data.json",
        {
            "videos": [{"video_id": "video7", "split": "train"}],
            "sentences": [{"caption": "a cat sleeps", "video_id": "video7"}],
        },
    )
    assert list(harness.conversations(tmp_path)) == ["msrvtt:video7:0"]
