"""Caltech101: ``101_ObjectCategories/<class>/image_NNNN.jpg`` + CoOp's
``split_zhou_Caltech101.json``.

Layout source: seed 001's directory tree; the split's form (``{"train"|"val"|"test":
[[relative path, label, classname], ...]}``, paths relative to the image folder,
CoOp's renamed classes: ``Faces`` -> ``face``) from CoOp's ``datasets/caltech101.py``
(``NEW_CNAMES``) and ``oxford_pets.py`` (``read_split``/``save_split``); the split keeps
folder-style names (``electric_guitar``), which CoOp's prompt learner prompts with ``_``
as spaces (``trainers/coop.py``).
"""

from pathlib import Path

from tests.helpers.datasets import BLUE, GREEN, RED, Expected, same_color, write_image, write_json

IMAGES = "101_ObjectCategories"


def build(root: Path) -> Expected:
    images = root / IMAGES
    write_image(images / "accordion" / "image_0001.jpg", 64, 48, RED)
    write_image(images / "accordion" / "image_0002.jpg", 48, 64, GREEN)
    write_image(images / "Faces" / "image_0001.jpg", 80, 40, BLUE)
    write_image(images / "Faces" / "image_0002.png", 40, 40, BLUE)
    write_image(images / "electric_guitar" / "image_0001.jpg", 48, 48, GREEN)
    write_image(images / "Motorbikes" / "image_0001.jpg", 48, 48, RED)
    # in no split (CoOp ignores it): never read, never a row
    write_image(images / "BACKGROUND_Google" / "image_0001.jpg")
    # a download cut short
    write_image(images / "Leopards" / "image_0001.jpg", 64, 48, RED, cut=True)
    write_json(
        root / "split_zhou_Caltech101.json",
        {
            "train": [
                ["accordion/image_0001.jpg", 0, "accordion"],
                ["Faces/image_0001.jpg", 1, "face"],
                ["Leopards/image_0001.jpg", 2, "leopard"],
                ["accordion/image_0009.jpg", 0, "accordion"],  # not on disk
                ["accordion/image_0002.jpg", "zero", "accordion"],  # not a label
                ["electric_guitar/image_0001.jpg", 3, "electric_guitar"],
                # a split made without CoOp's renames carries the folder's name
                ["Motorbikes/image_0001.jpg", 4, "Motorbikes"],
            ],
            "val": [["accordion/image_0002.jpg", 0, "accordion"]],
            "test": [["Faces/image_0002.png", 1, "face"]],
        },
    )

    def check(by_id: dict[str, dict]) -> None:
        face = by_id["caltech101:Faces/image_0001.jpg"]
        assert face["conversations"] == [
            {"from": "human", "value": "<image>\nWhat is in this photo?"},
            {"from": "gpt", "value": "a photo of a face."},
        ]
        assert (face["label"], face["classname"], face["query"]) == (
            1,
            "face",
            "What is in this photo?",
        )
        assert face["video"] == "Faces/image_0001.jpg"
        assert (face["width"], face["height"]) == (64, 32)  # short side 32, aspect kept
        assert len(face["frames"]) == 1 and same_color(face["frames"][0], BLUE)
        accordion = by_id["caltech101:accordion/image_0001.jpg"]
        assert (accordion["label"], accordion["classname"]) == (0, "accordion")
        assert same_color(accordion["frames"][0], RED)
        guitar = by_id["caltech101:electric_guitar/image_0001.jpg"]
        assert guitar["conversations"][1]["value"] == "a photo of a electric guitar."
        assert (guitar["label"], guitar["classname"]) == (3, "electric guitar")
        motorbike = by_id["caltech101:Motorbikes/image_0001.jpg"]
        assert motorbike["conversations"][1]["value"] == "a photo of a motorbike."
        assert motorbike["classname"] == "motorbike"

    return Expected(
        rows={
            "caltech101:accordion/image_0001.jpg",
            "caltech101:Faces/image_0001.jpg",
            "caltech101:electric_guitar/image_0001.jpg",
            "caltech101:Motorbikes/image_0001.jpg",
        },
        errors={
            "caltech101:Leopards/image_0001.jpg": "decode_error",
            "caltech101:accordion/image_0009.jpg": "missing_image",
            "caltech101:split_zhou_Caltech101.json#train/4": "bad_annotation",
        },
        check=check,
    )
