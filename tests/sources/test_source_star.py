"""STAR: the seed script's bugs, each as a test that its behaviour would fail."""

from __future__ import annotations

SOURCE = "star"


def test_every_good_record_becomes_a_row_with_its_query(harness, fixture, tmp_path):
    """Seed bug: the script appends each record to the list it read (``dataset``), not
    to the one it returns, and sets no ``query``: it returns nothing usable."""
    root, expected = fixture
    rows, _ = harness.convert(root, tmp_path / "out")
    assert len(rows) == len(expected.rows) == 3
    for row in rows:
        assert row["query"] == "Which object was taken by the person?"


def test_clips_are_spans_of_the_original_video_not_new_files(harness, fixture, tmp_path):
    """Seed behaviour: every question's clip is cut and re-encoded with moviepy into
    ``cliped_videos/<question_id>.mp4``. Here the original video is read once per span
    and the frames come from inside it."""
    root, _ = fixture
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    rows, _ = harness.convert(root, tmp_path / "out")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing cut
    row = next(r for r in rows if r["id"] == "star:Sequence_T2_7")
    assert row["video"] == "ZS9XR.mp4"
    assert (row["clip_start"], row["clip_end"]) == (0.5, 2.5)
    assert all(0.4 <= t < 2.5 for t in row["frame_timestamps"])


def test_two_questions_on_one_span_share_one_decode(harness, fixture):
    root, _ = fixture
    samples = harness.samples(root)
    shared = [s for s in samples if len(s.conversations) == 2]
    assert [c.id for c in shared[0].conversations] == [
        "star:Interaction_T1_13",
        "star:Interaction_T1_14",
    ]


def test_the_answer_is_its_lettered_option(harness, fixture):
    """Seed behaviour: the answer text is matched by splitting option strings on spaces;
    here the answer is matched to its option whatever the spacing or case."""
    root, _ = fixture
    convs = harness.conversations(root)
    assert convs["star:Sequence_T2_7"].turns[1] == ("gpt", "D. The phone.")
    assert convs["star:Interaction_T1_14"].turns[1] == ("gpt", "A. The cup.")


def test_val_split(harness, fixture):
    root, _ = fixture
    ids = harness.conversation_ids(root, split="val")
    assert ids == ["star:Interaction_T1_500"]
