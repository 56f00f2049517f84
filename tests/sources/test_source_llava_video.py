"""LLaVA-Video-178K: every file kind read, no record dropped, dialogues restorable."""

from tests.helpers.datasets import reasons, turn_values
from tests.helpers.datasets.llava_video import ACADEMIC, CHARADES, HOUND_FILE, PARQUET_COPY
from vidray.io import storage
from vidray.sources import get

SOURCE = "llava-video"

OE = "0_30_s_academic_oe_v0_1_qa_processed"


def test_open_ended_files_are_read(harness, fixture):
    """Seed bug: the open-ended files were skipped (commented out); only mc files were
    read. Every oe pair, and the caption files, must give rows."""
    root, _ = fixture
    ids = harness.conversation_ids(root)
    assert f"llava-video:{OE}#0:0" in ids and f"llava-video:{OE}#1:0" in ids
    assert "llava-video:30_60_s_youtube_oe_v0_1_qa_processed#0:0" in ids
    assert "llava-video:0_30_s_academic_v0_1_cap_processed#0:0" in ids


def test_records_without_id_are_kept(harness, fixture, tmp_path):
    """Seed bug: records without ``id`` were silently dropped (``except: continue``).
    Record 1 of the caption file has no id: it must become a row keyed by its index."""
    root, _ = fixture
    rows, _ = harness.convert(root, tmp_path / "out")
    (r,) = [r for r in rows if r["id"] == "llava-video:0_30_s_academic_v0_1_cap_processed#1:0"]
    assert r["conversations"][1]["value"] == "A boy plays with a ball in a garden."
    assert r["video"] == f"{ACADEMIC}/academic_source/NextQA/4010069381.mp4"


def test_annotation_files_are_found_without_walking_the_videos(fresh):
    """The card's globs, one folder deep, and the llava_hound file: not the archives,
    not the hub's parquet copy of the captions (reported as skipped instead), not a
    JSON among the extracted videos."""
    root, _ = fresh
    (root / ACADEMIC / "academic_source" / "x_cap_processed.json").write_text("[]")
    try:
        src = get("llava-video")
        units = src.units(storage.location(str(root)))
        skipped = src.skipped_units(storage.location(str(root)))
    finally:
        (root / ACADEMIC / "academic_source" / "x_cap_processed.json").unlink()
    assert units == [
        f"{ACADEMIC}/0_30_s_academic_mc_v0_1_qa_processed.json",
        f"{ACADEMIC}/{OE}.json",
        f"{ACADEMIC}/{ACADEMIC}_cap_processed.json",
        "30_60_s_youtube_v0_1/30_60_s_youtube_oe_v0_1_qa_processed.json",
        "30_60_s_youtube_v0_1/30_60_s_youtube_v0_1_cap_processed.json",
        HOUND_FILE,
    ]
    assert skipped == [PARQUET_COPY]


def test_llava_hound_is_read_over_frame_folders(harness, fixture):
    """Seed-era bug of this source: no glob matched llava_hound/, so its ~255k rows
    vanished without an error row. Its videos are frame folders (2 fps)."""
    root, _ = fixture
    found = [s for s in harness.samples(root) if HOUND_FILE.split("/")[1][:-5] in s.id]
    assert [(s.media, s.error is None) for s in found] == [("frames", True), ("frames", True)]
    assert get("llava-video").frames_fps == 2.0


def test_multiturn_restores_the_dialogue(harness, fixture, tmp_path):
    """The pairs of a video in one file become one row, in order, with the media token
    once; the caption file's row on the same video keeps an id of its own."""
    root, _ = fixture
    rows, errors = harness.convert(root, tmp_path / "out", qa_mode="multiturn")
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    by_id = {r["id"]: r for r in rows}
    r = by_id[f"llava-video:{ACADEMIC}/{OE}.json#{ACADEMIC}/{CHARADES}"]
    assert turn_values(r) == [
        "<image>\nWhat is the man holding?",
        "He is holding a cup.",
        "Where does he sit?",
        "On a chair by the window.",
        "What color is the cup?",
        "White.",
    ]
    assert r["query"] == "What is the man holding?"
    assert "llava-video:0_30_s_academic_v0_1_cap_processed#0:0" in by_id
    assert f"llava-video:{OE}#0:0" not in by_id
    assert reasons(errors)[f"llava-video:{OE}#3:0"] == "missing_video"


def test_ids_are_deterministic(harness, fixture):
    root, _ = fixture
    first = harness.conversation_ids(root)
    assert first == harness.conversation_ids(root, seed=5)
    assert len(first) == len(set(first))
    multi = harness.conversation_ids(root, qa_mode="multiturn")
    assert multi == harness.conversation_ids(root, qa_mode="multiturn")
    assert len(multi) == len(set(multi))
