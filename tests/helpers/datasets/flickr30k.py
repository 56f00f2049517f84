"""Flickr30k: ``flickr30k-images/*.jpg`` + BLIP's ``flickr30k_{train,val,test}.json``.

Layout source: seed 001's directory tree; the record shapes from BLIP's files (train:
one record per caption, ``image_id`` a string; val/test: one per image, captions as a
list).
"""

from pathlib import Path

from tests.helpers.datasets import BLUE, GREEN, RED, Expected, same_color, write_image, write_json

IMAGES = "flickr30k-images"


def build(root: Path) -> Expected:
    write_image(root / IMAGES / "1000092795.jpg", 64, 48, RED)
    write_image(root / IMAGES / "10002456.jpg", 48, 64, GREEN)
    write_image(root / IMAGES / "1000268201.jpg", 64, 48, BLUE)
    write_image(root / IMAGES / "1000344755.jpg", 64, 48, GREEN)
    write_json(
        root / "flickr30k_train.json",
        [
            {
                "caption": "Two young guys are outside.",
                "image": f"{IMAGES}/1000092795.jpg",
                "image_id": "0",
            },
            {
                "caption": "Two men in green shirts.",
                "image": f"{IMAGES}/1000092795.jpg",
                "image_id": "0",
            },
            {"caption": "A dog runs.", "image": "10002456.jpg", "image_id": "1"},
            {"caption": ["fine", 3], "image": f"{IMAGES}/10002456.jpg", "image_id": "1"},
        ],
    )
    captions = [f"Caption {k} of a child." for k in range(5)]
    write_json(
        root / "flickr30k_val.json", [{"image": f"{IMAGES}/1000268201.jpg", "caption": captions}]
    )
    write_json(
        root / "flickr30k_test.json",
        [
            {"image": f"{IMAGES}/1000344755.jpg", "caption": ["A man sleeps."]},
            {"image": f"{IMAGES}/404.jpg", "caption": ["Gone.", "Still gone."]},
        ],
    )

    def check(by_id: dict[str, dict]) -> None:
        r = by_id[f"flickr30k:{IMAGES}/1000092795.jpg#1"]
        assert r["conversations"][1]["value"] == "Two men in green shirts."
        assert same_color(r["frames"][0], RED)
        dog = by_id[f"flickr30k:{IMAGES}/10002456.jpg#0"]
        assert dog["video"] == f"{IMAGES}/10002456.jpg"
        assert same_color(dog["frames"][0], GREEN) and (dog["width"], dog["height"]) == (32, 43)

    return Expected(
        rows={
            f"flickr30k:{IMAGES}/1000092795.jpg#0",
            f"flickr30k:{IMAGES}/1000092795.jpg#1",
            f"flickr30k:{IMAGES}/10002456.jpg#0",
        },
        errors={"flickr30k:flickr30k_train.json#3": "bad_annotation"},
        check=check,
    )
