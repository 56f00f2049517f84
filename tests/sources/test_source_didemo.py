"""DiDeMo: the consensus moment of the annotators, spans from 5-second segments, videos
found by stem, seeded instructions."""

from __future__ import annotations

import pytest

from tests.helpers.datasets import turn_values, write_json
from vidray import prompts
from vidray.sources.base import BadAnnotation
from vidray.sources.didemo import consensus

SOURCE = "didemo"
POOL = tuple(f"Describe moment kind {i}." for i in range(40))


def test_consensus_is_the_most_frequent_pair_ties_to_the_earliest():
    assert consensus([[1, 2], [0, 0], [1, 2], [3, 3]]) == (1, 2)
    assert consensus([[2, 2], [1, 3], [1, 3], [2, 2]]) == (1, 3)
    assert consensus([[4, 5], [2, 2]]) == (2, 2)
    assert consensus([[3.0, 4.0]]) == (3, 4)  # integral floats are tolerated
    for bad in ([[1]], [[2, 1]], [[-1, 0]], [["0", "1"]], [[0.5, 1]], [None]):
        with pytest.raises(BadAnnotation):
            consensus(bad)


def test_spans_are_five_second_segments(harness, fixture):
    root, _ = fixture
    clips = {c.id: s.clip for s in harness.samples(root) for c in s.conversations}
    assert clips["didemo:3001"] == (0.0, 5.0)
    assert clips["didemo:3003"] == (5.0, 10.0)
    assert clips["didemo:3005"] == (0.0, 5.0)
    assert clips["didemo:3004"] == (None, None)  # segments 0..5: the whole video


def test_a_moment_in_the_last_segment_runs_to_the_video_end(harness, fixture, tmp_path):
    """The last segment is shorter than 5 s (videos are 25-30 s): ``5*(end+1)`` would
    pass the end of most videos and turn good moments into ``bad_span`` rows."""
    root, _ = fixture
    clips = {c.id: s.clip for s in harness.samples(root, split="val") for c in s.conversations}
    assert clips == {"didemo:4001": (5.0, None), "didemo:4002": (None, None)}
    rows, errors = harness.convert(root, tmp_path / "out", split="val")
    assert errors == []
    r = {r["id"]: r for r in rows}["didemo:4001"]
    # the row says where "the end" was: the 6 s video's duration
    assert (r["clip_start"], r["clip_end"]) == (5.0, 6.0)
    assert r["frame_timestamps"] and all(4.9 <= t < 6.0 for t in r["frame_timestamps"])


def test_videos_are_found_by_stem_whatever_the_extension(harness, fixture):
    root, _ = fixture
    videos = {c.id: s.video for s in harness.samples(root) for c in s.conversations}
    assert videos["didemo:3001"] == "10015567@N08_3655084291_d8b58466fa.mp4"  # .mov annotated
    assert videos["didemo:3005"] == "10206271@N02_2942446862_8c48a6d8ef.mov"  # no extension
    # the AWS download script saves <video>.mp4, the annotated extension kept inside
    assert videos["didemo:3006"] == "10445128@N03_4316917870_e5e4cd1b3b.avi.mp4"


def test_caption_instructions_are_seeded_per_row(harness, fixture):
    """Seed bug (every caption source): ``random.sample`` without a seed. Here the
    instruction is drawn from the row id and ``--seed``: stable across runs."""
    root, _ = fixture
    first = harness.conversations(root, prompts=POOL, seed=11)
    again = harness.conversations(root, prompts=POOL, seed=11)
    assert {k: c.query for k, c in first.items()} == {k: c.query for k, c in again.items()}
    for cid, conv in first.items():
        assert conv.query == prompts.draw(POOL, cid, 11)
        assert conv.turns[0] == ("human", f"<image>\n{conv.query}")


def test_splits(harness, fixture):
    root, _ = fixture
    test = [
        (c.id, c.turns[1][1]) for s in harness.samples(root, split="test") for c in s.conversations
    ]
    assert test == [("didemo:5001", "a child laughs")]


def test_multiturn_gathers_descriptions_of_the_same_moment(harness, fixture, tmp_path):
    root, _ = fixture
    by_id = harness.rows_by_id(root, tmp_path / "out", qa_mode="multiturn")
    row = by_id["didemo:train_data.json#10015567@N08_3655084291_d8b58466fa.mp4@0-5"]
    assert turn_values(row)[1::2] == [
        "the dog jumps into the water",
        "a dog leaps off the dock",
    ]
    assert (row["clip_start"], row["clip_end"]) == (0.0, 5.0)


def test_num_segments_must_be_a_positive_integer(harness, tmp_path):
    write_json(
        tmp_path / "train_data.json",
        [
            {
                "annotation_id": 1,
                "description": "x",
                "video": "v.mp4",
                "times": [[0, 0]],
                "num_segments": "six",
            }
        ],
    )
    (sample,) = harness.samples(tmp_path)
    assert sample.id == "didemo:train_data.json#0"
    assert sample.error is not None and sample.error[0] == "bad_annotation"
