"""Flickr30k (BLIP's files): a row per caption, in either record shape."""

from __future__ import annotations

SOURCE = "flickr30k"
IMAGES = "flickr30k-images"


def test_five_captions_of_one_image_are_five_rows_of_one_sample(harness, fixture):
    root, _ = fixture
    (sample,) = harness.samples(root, split="val")
    assert [c.id for c in sample.conversations] == [
        f"flickr30k:{IMAGES}/1000268201.jpg#{k}" for k in range(5)
    ]
    assert sample.conversations[4].turns[1] == ("gpt", "Caption 4 of a child.")


def test_training_records_of_one_image_share_it(harness, fixture):
    root, _ = fixture
    samples = harness.samples(root)
    by_video = {s.video: [c.turns[1][1] for c in s.conversations] for s in samples if not s.error}
    assert by_video == {
        f"{IMAGES}/1000092795.jpg": ["Two young guys are outside.", "Two men in green shirts."],
        f"{IMAGES}/10002456.jpg": ["A dog runs."],  # a bare name, found in flickr30k-images/
    }
    (bad,) = [s for s in samples if s.error]
    assert bad.error[0] == "bad_annotation" and "caption 1" in bad.error[1]


def test_an_absent_image_is_a_row_per_caption_it_had(harness, fixture, tmp_path):
    root, _ = fixture
    rows, errors = harness.convert(root, tmp_path / "out", split="test")
    assert [r["id"] for r in rows] == [f"flickr30k:{IMAGES}/1000344755.jpg#0"]
    assert [(e["id"], e["reason"]) for e in errors] == [
        (f"flickr30k:{IMAGES}/404.jpg#0", "missing_image"),
        (f"flickr30k:{IMAGES}/404.jpg#1", "missing_image"),
    ]
