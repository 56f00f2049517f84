"""EgoTaskQA: clips named after their ``|`` interval, or the full video with the interval
as a frame span; both question folders per split; multi-turn and stable ids."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.datasets import convert_in_process, source_samples, write_json, write_video
from tests.datasets import egotaskqa as fixture
from vidray.io import storage
from vidray.sources import SourceContext, get

samples = partial(source_samples, "egotaskqa")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    fixture.build(tmp_path)
    return tmp_path


def test_clip_when_it_exists_else_the_full_video_with_a_frame_span(root):
    by_row = {c.id: s for s in samples(root) for c in s.conversations}
    clip = by_row["egotaskqa:direct/train:1"]
    assert (clip.video, clip.clip, clip.clip_unit) == ("12_1|P1|0|30.mp4", (None, None), "s")
    full = by_row["egotaskqa:direct/train:3"]
    assert (full.video, full.clip, full.clip_unit) == ("7_2.mp4", (10, 40), "frame")
    # the recipe's path alone (qa_videos/<interval>.mp4) would have found no video here
    assert not (root / "qa_videos" / "7_2|P1|10|40.mp4").exists()


def test_missing_both_is_a_missing_video_row(root):
    (missing,) = [s for s in samples(root) if s.error and s.error[0] == "missing_video"]
    # the error row keeps the question's own id
    assert [c.id for c in missing.conversations] == ["egotaskqa:direct/train:5"]
    assert "'3_3|P1|0|20.mp4'" in missing.error[1] and "'3_3.mp4'" in missing.error[1]


def test_the_videos_root_is_listed_once(root, monkeypatch):
    calls = []
    real = storage.list_files

    def counting(loc, suffixes, subdir="", **kw):
        calls.append(loc.uri)
        return real(loc, suffixes, subdir, **kw)

    monkeypatch.setattr(storage, "list_files", counting)
    src = get("egotaskqa")
    loc = storage.location(str(root))
    for unit in src.units(loc):
        list(src.samples(loc, unit))
    assert sum(uri.endswith("/qa_videos") for uri in calls) == 1


def test_a_clip_in_a_subfolder_is_found_by_name(tmp_path):
    write_video(tmp_path / "qa_videos" / "part1" / "5_5|P1|0|10.mp4", seconds=2.0)
    write_json(tmp_path / "qa/direct/train_qas.json", [fixture.qa(9, "Q?", "a", "5_5|P1|0|10")])
    (sample,) = samples(tmp_path)
    assert sample.video == "part1/5_5|P1|0|10.mp4" and sample.error is None


def test_splits_read_both_folders(root):
    src = get("egotaskqa", SourceContext(split="val"))
    assert src.units(storage.location(str(root))) == [
        "qa/direct/val_qas.json",
        "qa/indirect/val_qas.json",
    ]
    ids = {c.id for s in samples(root, split="val") for c in s.conversations}
    assert ids == {"egotaskqa:direct/val:100", "egotaskqa:indirect/val:100"}
    assert samples(root, split="test") == []  # no test files in the fixture
    assert get("egotaskqa").split() == "train"


def test_multiturn_merges_the_questions_on_one_clip(root, tmp_path):
    rows, _ = convert_in_process("egotaskqa", root, tmp_path / "out", qa_mode="multiturn")
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {
        "egotaskqa:qa/direct/train_qas.json#12_1|P1|0|30.mp4",  # direct #1 and #2
        "egotaskqa:direct/train:3",
        "egotaskqa:indirect/train:1",
        "egotaskqa:indirect/train:2",
    }
    assert [
        t["value"]
        for t in by_id["egotaskqa:qa/direct/train_qas.json#12_1|P1|0|30.mp4"]["conversations"]
    ] == [
        "<image>\nWhat is the person holding?",
        "knife",
        "Is the fridge open after the action?",
        "yes",
    ]


def test_ids_are_stable_and_keep_direct_and_indirect_apart(root):
    ids = [c.id for s in samples(root) for c in s.conversations]
    assert ids == [c.id for s in samples(root) for c in s.conversations]
    assert len(ids) == len(set(ids))
    assert {"egotaskqa:direct/train:1", "egotaskqa:indirect/train:1"} <= set(ids)
