"""mini-ImageNet: ``train/``, ``val/``, ``test/`` of ``<wnid>/*.jpg`` + ``classnames.txt``.

Layout source: seed 001's directory tree (the MTL download, class folders per split)
and its ``classnames.txt`` ("copied from CLIP": lines ``<wnid> <class name>``, names
with spaces). The file names follow MTL's ``<wnid><8-digit index>.jpg``.
"""

from pathlib import Path

from tests.helpers.datasets import BLUE, GREEN, RED, Expected, same_color, write_bytes, write_image

CLASSNAMES = """\
n01440764 tench
n01443537 goldfish
n01484850 great white shark

n01491361 tiger shark
"""


def build(root: Path) -> Expected:
    write_bytes(root / "classnames.txt", CLASSNAMES.encode())
    write_image(root / "train" / "n01443537" / "n0144353700000001.jpg", 64, 48, RED)
    write_image(root / "train" / "n01443537" / "n0144353700000002.jpg", 48, 64, GREEN)
    write_image(root / "train" / "n01484850" / "n0148485000000001.JPEG", 40, 40, BLUE)
    write_bytes(root / "train" / "n01484850" / "readme.txt", b"not an image")
    # a class folder classnames.txt does not list
    write_image(root / "train" / "n09999999" / "n0999999900000001.jpg")
    write_image(root / "val" / "n01491361" / "n0149136100000001.jpg", 64, 48, BLUE)
    write_image(root / "test" / "n01440764" / "n0144076400000001.png", 64, 48, GREEN)

    def check(by_id: dict[str, dict]) -> None:
        shark = by_id["mini-imagenet:train/n01484850/n0148485000000001.JPEG"]
        assert (shark["label"], shark["classname"]) == (2, "great white shark")
        assert shark["conversations"][1]["value"] == "a photo of a great white shark."
        assert same_color(shark["frames"][0], BLUE)
        fish = by_id["mini-imagenet:train/n01443537/n0144353700000002.jpg"]
        assert (fish["label"], fish["classname"]) == (1, "goldfish")
        assert same_color(fish["frames"][0], GREEN)
        assert (fish["width"], fish["height"]) == (32, 43)

    return Expected(
        rows={
            "mini-imagenet:train/n01443537/n0144353700000001.jpg",
            "mini-imagenet:train/n01443537/n0144353700000002.jpg",
            "mini-imagenet:train/n01484850/n0148485000000001.JPEG",
        },
        errors={"mini-imagenet:train/n09999999/n0999999900000001.jpg": "bad_annotation"},
        check=check,
    )
