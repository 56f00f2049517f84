"""MovieChat-1K: global questions on the whole video, breakpoint questions on the video
up to their frame, a drawn-instruction caption row; multi-turn and stable ids."""

from __future__ import annotations

from tests.helpers.datasets import moviechat, turn_values, write_json

SOURCE = "moviechat"


def test_global_on_the_whole_video_breakpoint_up_to_its_frame(harness, root):
    rows = harness.sample_of(root)
    whole = rows["moviechat:1:global:0"]
    assert (whole.video, whole.clip) == ("1.mp4", (None, None))
    moment = rows["moviechat:1:breakpoint:2"]
    assert (moment.video, moment.clip, moment.clip_unit) == ("1.mp4", (0.0, 35.0), "frame")
    # two questions at the same moment share one sample
    assert rows["moviechat:1:breakpoint:0"] is rows["moviechat:1:breakpoint:1"]


def test_the_file_is_one_record_not_its_top_level_keys(harness, root):
    """The base reader yields a JSON object's (key, value) pairs; a MovieChat file is
    one record, so no row or error is keyed by ``caption``/``info``/``global``."""
    ids = {s.id for s in harness.samples(root) if s.error} | set(harness.sample_of(root))
    assert not any(i.endswith(("#info", "#caption", "#global", "#breakpoint")) for i in ids)


def test_caption_row_uses_a_seeded_draw(harness, root):
    a = harness.sample_of(root, seed=0)["moviechat:1:caption"].conversations
    b = harness.sample_of(root, seed=0)["moviechat:1:caption"].conversations
    assert a == b
    (conv,) = [c for c in a if c.id == "moviechat:1:caption"]
    assert conv.turns[1] == ("gpt", moviechat.CAPTION)
    assert conv.turns[0] == ("human", f"<image>\n{conv.query}")
    draws = set()
    for seed in range(8):
        s = harness.sample_of(root, seed=seed)["moviechat:1:caption"]
        draws |= {c.query for c in s.conversations if c.id == "moviechat:1:caption"}
    assert len(draws) > 1


def test_a_json_without_its_video_gives_missing_video_rows(harness, root, tmp_path):
    _, errors = harness.convert(root, tmp_path / "out")
    missing = {e["id"] for e in errors if e["reason"] == "missing_video"}
    assert missing == {
        "moviechat:2:global:0",
        "moviechat:2:global:1",
        "moviechat:2:caption",
        "moviechat:2:breakpoint:0",
    }


def test_a_malformed_qa_costs_only_itself(harness, tmp_path):
    doc = moviechat.doc(5, [{"time": 3, "question": "Q?", "answer": ""}])
    doc["global"].append("not an object")
    write_json(tmp_path / "jsons" / "5.json", doc)
    got = harness.samples(tmp_path)
    errors = {s.id for s in got if s.error}
    assert errors == {"moviechat:jsons/5.json#global:2", "moviechat:jsons/5.json#breakpoint:0"}
    assert set(harness.sample_of(tmp_path)) == {
        "moviechat:5:global:0",
        "moviechat:5:global:1",
        "moviechat:5:caption",
    }


def test_no_caption_key_no_caption_row(harness, tmp_path):
    doc = moviechat.doc(6, [])
    del doc["caption"]
    write_json(tmp_path / "jsons" / "6.json", doc)
    assert set(harness.sample_of(tmp_path)) == {"moviechat:6:global:0", "moviechat:6:global:1"}


def test_multiturn_one_row_per_video_and_moment(harness, root, tmp_path):
    rows, errors = harness.convert(root, tmp_path / "out", qa_mode="multiturn")
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {
        "moviechat:jsons/1.json#1.mp4",  # the whole video: two global questions and the caption
        "moviechat:jsons/1.json#1.mp4@0-20",  # the two questions at frame 20
        "moviechat:1:breakpoint:2",  # alone at frame 35
    }
    whole = turn_values(by_id["moviechat:jsons/1.json#1.mp4"])
    assert whole[:4] == [
        "<image>\nWhere does the story take place?",
        "In a diner.",
        "How many people talk?",
        "Two.",
    ]
    assert whole[5] == moviechat.CAPTION and len(whole) == 6
    moment = by_id["moviechat:jsons/1.json#1.mp4@0-20"]
    assert turn_values(moment) == [
        "<image>\nWhat is the man doing now?",
        "Ordering.",
        "Who is he talking to?",
        "The waitress.",
    ]
    assert (moment["clip_start"], moment["clip_end"]) == (0.0, 2.0)
    assert {e["id"] for e in errors} >= {"moviechat:jsons/2.json#2.mp4", "moviechat:jsons/3.json"}


def test_ids_are_stable(harness, root):
    first = [(c.id, c.turns) for s in harness.samples(root) for c in s.conversations]
    assert first == [(c.id, c.turns) for s in harness.samples(root) for c in s.conversations]
    assert len({i for i, _ in first}) == len(first)
