"""MSCOCO 2014, Karpathy splits in BLIP's form: ``train2014/``, ``val2014/``,
``captions_train.json``, ``coco_karpathy_{val,test}.json``.

Layout source: seed 001's directory tree; the record shapes from BLIP's
``coco_karpathy_*.json`` (train: one record per caption with ``image_id`` like
``coco_9``; val/test: one record per image with its captions as a list). The content of
the seed's Kaggle ``captions_train.json`` was not available: it is written in BLIP's
train shape here. BLIP's own ``coco_karpathy_train.json`` sits next to it (the same
captions): it is reported as skipped, not read twice.
"""

from pathlib import Path

from tests.helpers.datasets import BLUE, GREEN, RED, Expected, same_color, write_image, write_json

TRAIN = "train2014/COCO_train2014_{:012d}.jpg"
VAL = "val2014/COCO_val2014_{:012d}.jpg"


def build(root: Path) -> Expected:
    write_image(root / TRAIN.format(9), 64, 48, RED)
    write_image(root / TRAIN.format(25), 48, 64, GREEN)
    write_image(root / VAL.format(42), 64, 48, BLUE)  # Karpathy's restval: in train
    write_image(root / VAL.format(73), 64, 48, GREEN)
    write_image(root / VAL.format(74), 64, 48, RED)
    train = [
        {"caption": "A red square on a table.", "image": TRAIN.format(9), "image_id": "coco_9"},
        {"caption": "Something red.\n", "image": TRAIN.format(9), "image_id": "coco_9"},
        {"caption": "A green field.", "image": TRAIN.format(25), "image_id": "coco_25"},
        {"caption": "A blue sky.", "image": VAL.format(42), "image_id": "coco_42"},
        {"caption": "Not downloaded.", "image": TRAIN.format(99), "image_id": "coco_99"},
        {"caption": "  ", "image": TRAIN.format(25), "image_id": "coco_25"},
        # a bare file name: its folder is in the name
        {"caption": "Grass, again.", "image": "COCO_train2014_000000000025.jpg"},
    ]
    write_json(root / "captions_train.json", train)
    write_json(root / "coco_karpathy_train.json", train)
    write_json(
        root / "coco_karpathy_val.json",
        [{"image": VAL.format(73), "caption": ["A lawn.", "Green grass.", "A park."]}],
    )
    write_json(
        root / "coco_karpathy_test.json",
        [{"image": VAL.format(74), "caption": ["A red car.", "A car."]}],
    )

    def check(by_id: dict[str, dict]) -> None:
        first = by_id[f"mscoco2014:{TRAIN.format(9)}#0"]
        assert first["conversations"][1]["value"] == "A red square on a table."
        assert by_id[f"mscoco2014:{TRAIN.format(9)}#1"]["conversations"][1]["value"] == (
            "Something red."
        )
        assert first["video"] == TRAIN.format(9)
        assert first["conversations"][0]["value"] == "<image>\n" + first["query"]
        assert same_color(first["frames"][0], RED)
        assert same_color(by_id[f"mscoco2014:{VAL.format(42)}#0"]["frames"][0], BLUE)
        grass = by_id[f"mscoco2014:{TRAIN.format(25)}#1"]
        assert grass["conversations"][1]["value"] == "Grass, again."
        assert grass["frames"] == by_id[f"mscoco2014:{TRAIN.format(25)}#0"]["frames"]
        assert all(r["label"] is None and r["classname"] is None for r in by_id.values())

    return Expected(
        rows={
            f"mscoco2014:{TRAIN.format(9)}#0",
            f"mscoco2014:{TRAIN.format(9)}#1",
            f"mscoco2014:{TRAIN.format(25)}#0",
            f"mscoco2014:{TRAIN.format(25)}#1",
            f"mscoco2014:{VAL.format(42)}#0",
        },
        errors={
            f"mscoco2014:{TRAIN.format(99)}#0": "missing_image",
            "mscoco2014:captions_train.json#5": "bad_annotation",
        },
        check=check,
        skipped=["coco_karpathy_train.json"],
    )
