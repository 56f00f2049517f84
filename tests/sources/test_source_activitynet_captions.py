"""ActivityNet Captions: one caption row per timestamped sentence, seeded instructions,
spans checked against the decoded video."""

from __future__ import annotations

from tests.helpers.datasets import turn_values, write_json
from vidray import prompts

SOURCE = "activitynet-captions"
POOL = tuple(f"Caption the moment, style {i}." for i in range(40))


def test_caption_instructions_are_seeded_per_row(harness, fixture):
    """Seed bug (every caption source): ``random.sample`` without a seed. Here the
    instruction is drawn from the row id and ``--seed`` alone."""
    root, _ = fixture
    first = harness.conversations(root, prompts=POOL, seed=5)
    again = harness.conversations(root, prompts=POOL, seed=5)
    assert len(first) == 6  # the missing video's sentence keeps its id too
    assert {k: c.query for k, c in first.items()} == {k: c.query for k, c in again.items()}
    for cid, conv in first.items():
        assert conv.query == prompts.draw(POOL, cid, 5)
        assert conv.turns[0] == ("human", f"<image>\n{conv.query}")


def test_each_sentence_gets_its_own_span(harness, fixture):
    root, _ = fixture
    got = {c.id: (s.clip, c.turns[1][1]) for s in harness.samples(root) for c in s.conversations}
    assert got["activitynet-captions:v_QOlSCBRmfWY:0"] == (
        (0.5, 2.5),
        "A woman is seen speaking to the camera.",
    )
    assert got["activitynet-captions:v_QOlSCBRmfWY:2"][0] == (3.0, 5.5)
    # checked by the decoder, not against the JSON's duration: a bad_span row later
    assert got["activitynet-captions:v_QOlSCBRmfWY:3"][0] == (4.0, 9.0)


def test_malformed_records_are_error_rows(harness, tmp_path):
    write_json(
        tmp_path / "train.json",
        {
            "v_a": {"duration": 5, "timestamps": [[0, 1]], "sentences": ["ok", "extra"]},
            "v_b": {"duration": 5, "timestamps": [[0, "1"]], "sentences": ["ok"]},
            "v_c": {"duration": 5, "timestamps": [[0, 1]], "sentences": ["  "]},
            "v_d": {"duration": 5, "sentences": ["ok"]},
        },
    )
    got = {s.id: s.error for s in harness.samples(tmp_path)}
    assert {sid: e[0] if e else None for sid, e in got.items()} == {
        f"activitynet-captions:train.json#v_{k}": "bad_annotation" for k in "abcd"
    }
    assert got["activitynet-captions:train.json#v_a"] == (
        "bad_annotation",
        "1 timestamps but 2 sentences: they pair up by position",
    )


def test_videos_are_found_with_or_without_the_v_prefix(harness, fixture):
    root, _ = fixture
    videos = {c.id: s.video for s in harness.samples(root) for c in s.conversations}
    assert videos["activitynet-captions:v_QOlSCBRmfWY:0"] == "v_QOlSCBRmfWY.mp4"
    assert videos["activitynet-captions:v_ehGHCYKzyZ8:0"] == "ehGHCYKzyZ8.mkv"


def test_val_splits_have_distinct_ids(harness, fixture):
    root, _ = fixture
    val = [
        (c.id, c.turns[1][1]) for s in harness.samples(root, split="val") for c in s.conversations
    ]
    val_2 = [
        (c.id, c.turns[1][1]) for s in harness.samples(root, split="val_2") for c in s.conversations
    ]
    assert val == [("activitynet-captions:v_ehGHCYKzyZ8:0", "Biking.")]
    assert val_2 == [("activitynet-captions:v_ehGHCYKzyZ8:val_2:0", "A hill.")]


def test_multiturn_gathers_sentences_of_the_same_span(harness, fixture, tmp_path):
    root, _ = fixture
    by_id = harness.rows_by_id(root, tmp_path / "out", qa_mode="multiturn")
    row = by_id["activitynet-captions:train.json#v_QOlSCBRmfWY.mp4@0.5-2.5"]
    assert turn_values(row)[1::2] == [
        "A woman is seen speaking to the camera.",
        "She stands in a kitchen.",
    ]
    # a span with one sentence keeps the sentence's id
    assert "activitynet-captions:v_QOlSCBRmfWY:2" in by_id


def test_row_ids_are_stable(harness, fixture):
    root, _ = fixture
    ids = harness.conversation_ids(root)
    assert ids == harness.conversation_ids(root, seed=9)
    assert len(ids) == len(set(ids))
