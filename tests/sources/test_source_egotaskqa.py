"""EgoTaskQA: one split family per split (no repeats, no test leak), LEMMA frame folders
per camera at 24 fps, the recipe's mp4 layouts as fallbacks; stable ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.datasets import Harness, egotaskqa
from vidray.io import storage
from vidray.sources import SourceContext, get
from vidray.sources.base import BadSplit

SOURCE = "egotaskqa"

ALL = [
    f"{family}-{split}" for family in ("direct", "indirect") for split in ("train", "val", "test")
]


def question_ids(harness: Harness, root: Path, split: str, **ctx) -> list[int]:
    """The global question_id of every question (row or error row) a split yields."""
    out = []
    for s in harness.samples(root, split=split, **ctx):
        for c in s.conversations:
            out.append(int(c.id.rsplit(":", 1)[1]))
    return out


def test_a_split_reads_one_family_and_never_leaks_or_repeats(harness, root):
    """indirect/train holds question 2, which direct/test holds out: direct-train must
    not yield it (the old ``train`` read both folders and did), and no split yields a
    question twice (question 0 is repeated in direct/train's file)."""
    assert get("egotaskqa").split() == "direct-train"
    for split in ALL:
        family = split.split("-")[0]
        ids = question_ids(harness, root, split)
        assert len(ids) == len(set(ids)), split
        others = {
            q
            for other in ALL
            if other != split and other.startswith(family)
            for q in question_ids(harness, root, other)
        }
        assert not set(ids) & others, split
        keys = {c.id for s in harness.samples(root, split=split) for c in s.conversations}
        assert all(k.startswith(f"egotaskqa:{family}/") for k in keys), split
    assert 2 in question_ids(harness, root, "direct-test") and 2 in question_ids(
        harness, root, "indirect-train"
    )
    assert 2 not in question_ids(harness, root, "direct-train")
    units = get("egotaskqa", SourceContext.of(split="indirect-val")).units(
        storage.location(str(root))
    )
    assert units == ["qa/indirect/val_qas.json"]
    with pytest.raises(BadSplit, match="direct-train"):
        get("egotaskqa", SourceContext.of(split="train")).units(storage.location(str(root)))


def test_the_camera_of_the_interval_is_read(harness, root, tmp_path):
    """``P2`` reads ``fpv2`` (60 frames), at 24 fps, inside the interval's frames."""
    rows, errors = harness.convert(root, tmp_path / "out", split="direct-test")
    by_id = {r["id"]: r for r in rows}
    r = by_id["egotaskqa:direct/test:2"]
    assert r["video"] == f"{egotaskqa.VIDEO}/fpv2"
    assert r["video_duration"] == egotaskqa.FRAMES[2] / egotaskqa.FPS
    assert (r["clip_start"], r["clip_end"]) == (0.0, 2.0)
    assert errors == []


def test_interval_and_video_id(root):
    src = get("egotaskqa")
    unit = "qa/direct/train_qas.json"
    (item,) = src.items(unit, "0", egotaskqa.qa(9, "Q?", "a", "4_2|P2|10|34"))
    assert (item.video, item.span, item.span_unit, item.media) == (
        "4_2/fpv2",
        (10, 34),
        "frame",
        "frames",
    )
    from vidray.sources.base import BadAnnotation

    for bad in ("4_2|P1|10", "4_2|C1|10|34", "4_2|P1|a|34", "|P1|0|3"):
        with pytest.raises(BadAnnotation):
            list(src.items(unit, "1", egotaskqa.qa(10, "Q?", "a", bad)))
    with pytest.raises(BadAnnotation, match="video_id"):
        list(src.items(unit, "2", {**egotaskqa.qa(11, "Q?", "a", "4_2|P1|0|3"), "video_id": None}))


def test_mp4_layouts_clip_then_full_video_then_missing(harness, tmp_path):
    """(?) The recipe's layouts, given with --videos: the clip named after its interval
    (whole), else the full video sampled inside the frame span, else missing_video."""
    egotaskqa.build(tmp_path)
    videos = egotaskqa.write_mp4_layouts(tmp_path)
    by_row = {
        c.id: s for s in harness.samples(tmp_path, videos=str(videos)) for c in s.conversations
    }
    clip = by_row["egotaskqa:direct/train:0"]
    assert (clip.video, clip.clip, clip.media) == (
        f"{egotaskqa.VIDEO}|P1|24|72.mp4",
        (None, None),
        "video",
    )
    full = by_row["egotaskqa:direct/train:7"]
    assert (full.video, full.clip, full.clip_unit) == (f"{egotaskqa.VIDEO}.mp4", (40, 200), "frame")
    missing = by_row["egotaskqa:direct/train:5"]
    assert missing.error and missing.error[0] == "missing_video"
    assert "'9_9/fpv1'" in missing.error[1] and "'9_9.mp4'" in missing.error[1]
    # without INPUT/videos, INPUT/qa_videos is the default
    import shutil

    shutil.rmtree(tmp_path / "videos")
    assert harness.samples(tmp_path)[0].video == f"{egotaskqa.VIDEO}|P1|24|72.mp4"


def test_frame_folders_are_found_by_shallow_listings_only(root, monkeypatch):
    """A LEMMA tree holds millions of frames: no recursive listing when every
    question's folder exists."""
    found = []
    real = storage.list_files

    def counting(loc, suffixes, subdir="", **kw):
        found.append((loc.uri, subdir))
        return real(loc, suffixes, subdir, **kw)

    monkeypatch.setattr(storage, "list_files", counting)
    src = get("egotaskqa", SourceContext.of(split="direct-test"))
    loc = storage.location(str(root))
    for unit in src.units(loc):
        list(src.samples(loc, unit))
    assert not [f for f in found if f[0].endswith("/videos")]


def test_multiturn_merges_the_questions_on_one_span(harness, root, tmp_path):
    found = harness.samples(root, qa_mode="multiturn")
    merged = [c for s in found for c in s.conversations if len(c.turns) > 2]
    (c,) = merged
    assert c.id == f"egotaskqa:qa/direct/train_qas.json#{egotaskqa.VIDEO}/fpv1@24-72"
    assert [t[1] for t in c.turns][::2] == [
        "<image>\nWhat is the person holding?",
        "Is the fridge open after the action?",
        "Why did the person open the fridge?",
    ]


def test_ids_are_stable(harness, root):
    first = harness.conversation_ids(root)
    assert first == harness.conversation_ids(root, seed=4)
