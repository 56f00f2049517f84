"""Flickr5k: the published ``.json.json`` suffix is read (and a renamed ``.json``)."""

from __future__ import annotations

from vidray import output as vout
from vidray.io import storage
from vidray.sources import SourceContext, get

SOURCE = "flickr5k"
IMAGES = "flickr5k-images"


def test_the_double_suffix_files_are_the_splits(harness, fixture, tmp_path):
    root, expected = fixture
    loc = storage.location(str(root))
    assert get(SOURCE).units(loc) == ["flickr5k_train.json.json"]
    assert get(SOURCE, SourceContext.of(split="val")).units(loc) == ["flickr5k_val.json.json"]
    assert get(SOURCE, SourceContext.of(split="test")).units(loc) == ["flickr5k_test.json"]
    rows, errors = harness.convert(root, tmp_path / "out")
    assert {r["id"] for r in rows} == expected.rows
    # the unit is named after the file without its last suffix, as every shard is
    assert sorted(p.stem for p in (tmp_path / "out" / vout.UNITS_DIR).iterdir()) == [
        "flickr5k_train.json-00000"
    ]
    (error,) = errors
    assert (
        error["reason"] == "decode_error" and f"{IMAGES}/1003.jpg is unreadable" in error["message"]
    )


def test_a_renamed_split_file_is_read_when_the_published_one_is_absent(harness, fixture, tmp_path):
    root, _ = fixture
    rows, _ = harness.convert(root, tmp_path / "out", split="test")
    assert [(r["id"], r["conversations"][1]["value"]) for r in rows] == [
        (f"flickr5k:{IMAGES}/1002.png#0", "Green.")
    ]
