"""Flickr5k: ``flickr5k-images/*.jpg`` + ``flickr5k_{train,val,test}.json.json``.

Layout source: seed 001's directory tree (the double suffix as published). No copy of
the files themselves was available: records are written in BLIP's form, like the
other sets of the same Kaggle collection. Here the test split was renamed to
``flickr5k_test.json``, which is read when the published name is absent.
"""

from pathlib import Path

from tests.helpers.datasets import BLUE, GREEN, RED, Expected, same_color, write_image, write_json

IMAGES = "flickr5k-images"


def build(root: Path) -> Expected:
    write_image(root / IMAGES / "1001.jpg", 64, 48, RED)
    write_image(root / IMAGES / "1002.png", 48, 64, GREEN)
    write_image(root / IMAGES / "1003.jpg", 64, 48, BLUE, cut=True)
    write_json(
        root / "flickr5k_train.json.json",
        [
            {"image": f"{IMAGES}/1001.jpg", "caption": "A red kite."},
            {"image": "1002.png", "caption": ["A green door.", "A door."]},
            {"image": f"{IMAGES}/1003.jpg", "caption": "Half a picture."},
        ],
    )
    write_json(
        root / "flickr5k_val.json.json", [{"image": f"{IMAGES}/1001.jpg", "caption": ["Red."]}]
    )
    write_json(
        root / "flickr5k_test.json", [{"image": f"{IMAGES}/1002.png", "caption": ["Green."]}]
    )

    def check(by_id: dict[str, dict]) -> None:
        door = by_id[f"flickr5k:{IMAGES}/1002.png#1"]
        assert door["conversations"][1]["value"] == "A door."
        assert same_color(door["frames"][0], GREEN)
        assert same_color(by_id[f"flickr5k:{IMAGES}/1001.jpg#0"]["frames"][0], RED)

    return Expected(
        rows={
            f"flickr5k:{IMAGES}/1001.jpg#0",
            f"flickr5k:{IMAGES}/1002.png#0",
            f"flickr5k:{IMAGES}/1002.png#1",
        },
        errors={f"flickr5k:{IMAGES}/1003.jpg#0": "decode_error"},
        check=check,
    )
