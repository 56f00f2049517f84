"""MSCOCO 2014 (Karpathy): caption lists and single captions both become a row per
caption, each image decoded once for all of its captions."""

from __future__ import annotations

from tests.helpers.datasets import write_image, write_json
from vidray import prompts
from vidray.io import storage
from vidray.sources import get

SOURCE = "mscoco2014"
VAL = "val2014/COCO_val2014_{:012d}.jpg"


def test_a_karpathy_caption_list_is_a_row_per_caption_on_one_decode(harness, fixture, tmp_path):
    root, _ = fixture
    (sample,) = harness.samples(root, split="val")
    assert sample.media == "image" and sample.video == VAL.format(73)
    assert [c.turns[1][1] for c in sample.conversations] == ["A lawn.", "Green grass.", "A park."]
    assert [c.id for c in sample.conversations] == [
        f"mscoco2014:{VAL.format(73)}#{k}" for k in range(3)
    ]
    rows, errors = harness.convert(root, tmp_path / "out", split="val")
    assert len(rows) == 3 and not errors
    assert rows[0]["frames"] == rows[1]["frames"] == rows[2]["frames"]


def test_instructions_are_image_prompts_drawn_by_row_id(harness, fixture):
    root, _ = fixture
    convs = [c for s in harness.samples(root, split="test", seed=3) for c in s.conversations]
    assert [c.id for c in convs] == [
        f"mscoco2014:{VAL.format(74)}#0",
        f"mscoco2014:{VAL.format(74)}#1",
    ]
    for c in convs:
        assert c.query == prompts.draw(prompts.BUILTIN_IMAGE_PROMPTS, c.id, 3)
        assert c.turns[0][1] == "<image>\n" + c.query
    pool = ("Say what you see.",)
    again = harness.samples(root, split="test", image_prompts=pool)
    assert {c.query for s in again for c in s.conversations} == {"Say what you see."}


def test_train_reads_the_seeds_file_and_reports_blips_copy(fixture, tmp_path):
    root, _ = fixture
    src, loc = get(SOURCE), storage.location(str(root))
    assert src.units(loc) == ["captions_train.json"]
    assert src.skipped_units(loc) == ["coco_karpathy_train.json"]
    (tmp_path / "coco_karpathy_train.json").write_bytes(
        (root / "coco_karpathy_train.json").read_bytes()
    )
    assert get(SOURCE).units(storage.location(str(tmp_path))) == ["coco_karpathy_train.json"]


def test_coco_caption_form_is_read_too(harness, tmp_path):
    """Should ``captions_train.json`` be COCO's own caption file (images + annotations),
    each annotation is a caption of the image its ``image_id`` names."""
    write_image(tmp_path / "train2014" / "COCO_train2014_000000000009.jpg")
    write_json(
        tmp_path / "captions_train.json",
        {
            "info": {},
            "images": [{"id": 9, "file_name": "COCO_train2014_000000000009.jpg"}],
            "annotations": [
                {"image_id": 9, "id": 48, "caption": "A plate of food."},
                {"image_id": 9, "id": 67, "caption": "Food on a plate."},
                {"image_id": 404, "id": 70, "caption": "No such image."},
            ],
        },
    )
    rows, errors = harness.convert(tmp_path, tmp_path / "out")
    image = "train2014/COCO_train2014_000000000009.jpg"
    assert [(r["id"], r["conversations"][1]["value"]) for r in rows] == [
        (f"mscoco2014:{image}#0", "A plate of food."),
        (f"mscoco2014:{image}#1", "Food on a plate."),
    ]
    assert [(e["id"], e["reason"]) for e in errors] == [
        ("mscoco2014:captions_train.json#annotations/2", "bad_annotation")
    ]
