"""NExT-QA: OE and MC configurations as splits; keys unique across them."""

import pytest

from tests.helpers.datasets import reasons, turn_values
from tests.helpers.datasets.nextqa import DOG, GIRL
from vidray.io import storage
from vidray.sources import SourceContext, get
from vidray.sources.base import BadSplit

SOURCE = "nextqa"


def test_splits_read_their_own_files(fixture):
    root, _ = fixture
    loc = storage.location(str(root))
    units = {
        split: get("nextqa", SourceContext.of(split=split)).units(loc)
        for split in (None, "train", "validation", "test", "mc-test")
    }
    assert units[None] == units["train"] == ["OE/train-00000-of-00001.parquet"]
    assert units["validation"] == ["OE/validation-00000-of-00001.parquet"]
    assert units["test"] == ["OE/test-00000-of-00001.parquet"]
    assert units["mc-test"] == ["MC/test-00000-of-00001.parquet"]
    with pytest.raises(BadSplit):
        get("nextqa", SourceContext.of(split="val")).units(loc)


def test_multiple_choice_split(harness, fixture, tmp_path):
    """MC: options a0..a4 lettered, the integer answer picks the correct one; the
    string video id of this configuration names the same file."""
    root, _ = fixture
    rows, errors = harness.convert(root, tmp_path / "out", split="mc-test")
    (r,) = rows
    assert r["id"] == f"nextqa:MC/test:{GIRL}:0"
    assert turn_values(r) == [
        "<image>\nwhat does the girl do after picking up the ball\n"
        "Please choose the right answer from the following options:\n"
        "A. sit down\nB. wave\nC. run away\nD. throw the ball\nE. cry",
        "D. throw the ball",
    ]
    assert r["query"] == "what does the girl do after picking up the ball"
    assert reasons(errors) == {"nextqa:MC/test-00000-of-00001.parquet#1": "bad_annotation"}


def test_keys_are_unique_across_configurations_and_splits(harness, fixture):
    """OE test and MC test ask qid 0 of the same video; qid repeats across videos."""
    root, _ = fixture
    every = [
        i for split in ("train", "validation", "test", "mc-test") for i in harness.ids(root, split)
    ]
    assert len(every) == len(set(every))
    assert f"nextqa:OE/test:{GIRL}:0" in every and f"nextqa:MC/test:{GIRL}:0" in every
    assert f"nextqa:OE/validation:{DOG}:3" in every


def test_multiturn_joins_the_questions_of_a_video(harness, fixture, tmp_path):
    root, _ = fixture
    by_id = harness.rows_by_id(root, tmp_path / "out", qa_mode="multiturn")
    assert set(by_id) == {
        f"nextqa:OE/train-00000-of-00001.parquet#0101/{GIRL}.mp4",
        f"nextqa:OE/train:{DOG}:0",
    }
    assert [
        t["value"]
        for t in by_id[f"nextqa:OE/train-00000-of-00001.parquet#0101/{GIRL}.mp4"]["conversations"]
    ] == [
        "<image>\nwhat does the girl do after picking up the ball",
        "throw it",
        "how many people are there",
        "two",
    ]


def test_ids_are_deterministic(harness, fixture):
    root, _ = fixture
    assert harness.ids(root) == harness.ids(root, seed=3)
    assert harness.ids(root, "mc-test") == harness.ids(root, "mc-test")


def test_mc_train_and_validation_come_from_the_original_csvs(harness, fixture):
    """``dataset/nextqa/{train,val}.csv``: string cells, the answer an option index;
    an index past the options is a bad_annotation row."""
    root, _ = fixture
    (girl,) = [s for s in harness.samples(root, split="mc-train") if not s.error]
    (c,) = girl.conversations
    assert c.id == f"nextqa:MC/train:{GIRL}:2"
    assert c.turns[1] == ("gpt", "B. wave")
    assert girl.video == f"0101/{GIRL}.mp4"
    assert harness.ids(root, "mc-train") == [
        f"nextqa:MC/train:{GIRL}:2",
        "nextqa:dataset/nextqa/train.csv#1",
    ]
    assert harness.ids(root, "mc-validation") == [f"nextqa:MC/validation:{DOG}:4"]


def test_videos_are_found_by_stem_under_nextvideo_or_videos(harness, fixture, tmp_path):
    """The archive's ``NExTVideo/<dir>/<id>.mp4`` by default; a flat ``videos/`` (the
    old default) when there is no ``NExTVideo/``; ``--videos`` anywhere."""
    root, _ = fixture
    by_video = {s.video for s in harness.samples(root) if not s.error}
    assert by_video == {f"0101/{GIRL}.mp4", f"1023/{DOG}.mp4"}
    import shutil

    flat = tmp_path / "flat"
    shutil.copytree(root, flat, ignore=shutil.ignore_patterns("NExTVideo"))
    for vid, sub in ((GIRL, "0101"), (DOG, "1023")):
        (flat / "videos").mkdir(exist_ok=True)
        shutil.copy(root / "NExTVideo" / sub / f"{vid}.mp4", flat / "videos" / f"{vid}.mp4")
    assert {s.video for s in harness.samples(flat) if not s.error} == {
        f"{GIRL}.mp4",
        f"{DOG}.mp4",
    }
    elsewhere = {
        s.video
        for s in harness.samples(flat, videos=str(root / "NExTVideo" / "0101"))
        if not s.error
    }
    assert elsewhere == {f"{GIRL}.mp4"}
