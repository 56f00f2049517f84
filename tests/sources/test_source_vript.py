"""Vript: one caption (``caption.content``) per scene clip."""

from __future__ import annotations

from tests.helpers.datasets import rows_of, vript, write_jsonl

SOURCE = "vript"

LONG_FILE = "vript_captions/vript_long_videos_captions.jsonl"
SHORT_FILE = "vript_captions/vript_short_videos_captions.jsonl"


def test_each_record_gives_exactly_one_row(harness, tmp_path):
    """Seed bug: the loop appended its output to the list it was iterating, so it
    never ended (and re-read its own output). One record, one row, and the end."""
    vript.build(tmp_path)
    found = harness.samples(tmp_path)
    lines = sum(1 for f in (LONG_FILE, SHORT_FILE) for _ in (tmp_path / f).read_text().splitlines())
    assert len(found) == lines == 7
    assert all(len(s.conversations) == (0 if s.error else 1) for s in found)
    ids = [c.id for s in found for c in s.conversations]
    assert len(ids) == len(set(ids)) == 6  # 7 lines, one malformed


def test_caption_is_content_not_shot_type(harness, tmp_path):
    """Seed bug: the answer was ``caption['shot_type']`` ("Medium shot"), not the
    scene's description in ``caption['content']``."""
    vript.build(tmp_path)
    found = rows_of(harness.samples(tmp_path))
    _, turns, _ = found[f"vript:{vript.LONG}-Scene-001"]
    assert turns[1] == ("gpt", "A baker dusts flour over a wooden counter.")
    assert all(turns[1][1] != "Medium shot" for _, turns, _ in found.values())


def test_scene_gaps_map_each_clip_to_its_own_file(harness, tmp_path):
    vript.build(tmp_path)
    found = rows_of(harness.samples(tmp_path))
    for n in (1, 3, 7, 10):
        video, _, _ = found[f"vript:{vript.LONG}-Scene-{n:03d}"]
        assert video == f"{vript.LONG}/{vript.LONG}-Scene-{n:03d}.mp4"


def test_instructions_are_seeded(harness, tmp_path):
    """Seed bug (every caption source): ``random.sample`` without a seed, so no run
    could be reproduced. The instruction is a function of row id and seed."""
    write_jsonl(tmp_path / LONG_FILE, [vript.scene("vid", n, f"scene {n}") for n in range(20)])
    first, again = rows_of(harness.samples(tmp_path)), rows_of(harness.samples(tmp_path))
    other = rows_of(harness.samples(tmp_path, seed=1))
    assert len(first) == 20 and first == again and first.keys() == other.keys()
    assert all(turns[0] == ("human", "<image>\n" + query) for _, turns, query in first.values())
    assert {k: v[2] for k, v in first.items()} != {k: v[2] for k, v in other.items()}


def test_splits(harness, tmp_path):
    vript.build(tmp_path)
    by_split = {
        split: set(rows_of(harness.samples(tmp_path, split=split)))
        for split in ("train", "long", "short")
    }
    assert by_split["long"] == {f"vript:{vript.LONG}-Scene-{n:03d}" for n in (1, 3, 7, 10)}
    assert by_split["short"] == {f"vript:{vript.SHORT}-Scene-{n:03d}" for n in (1, 2)}
    assert by_split["train"] == by_split["long"] | by_split["short"]
    assert set(rows_of(harness.samples(tmp_path))) == by_split["train"]  # the default split


def test_ids_are_clip_ids_and_stable(harness, tmp_path):
    vript.build(tmp_path)
    ids = harness.conversation_ids(tmp_path)
    assert ids == harness.conversation_ids(tmp_path)
    assert ids[0] == f"vript:{vript.LONG}-Scene-001"
