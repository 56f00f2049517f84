"""Flickr30k-CN: Chinese-CLIP's release (``{split}_texts.jsonl`` + ``{split}_imgs.tsv``),
seed 001's tree (the texts next to ``flickr30k-images/*.jpg``) and the seed's generated
``flickr30k_cn_{split}.json``.

Layout sources: Chinese-CLIP's README ("Data Preprocessing", OFA-Sys/Chinese-CLIP
``README.md``, the hub zip ``Flickr30k-CN.zip``): per split ``{split}_texts.jsonl`` lines
``{"text_id", "text", "image_ids": [...]}`` and ``{split}_imgs.tsv`` lines
``<image_id>\\t<base64 image>`` (written with ``base64.b64encode``, read back with
``base64.urlsafe_b64decode`` in ``cn_clip/training/data.py``), splits ``train``,
``valid``, ``test``, no image folder. Seed 001's directory trees (before and after its
``generate_flickr30k_cn_json.py``) and that script: it reads the same jsonl files
(integer image ids) joined to ``flickr30k-images/`` and writes BLIP's shapes (train: a
record per caption; val/test: a record per image with a caption list). The seed's tree
names ``val_texts.jsonl``.

Here train is Chinese-CLIP's release (no image folder holds its images), val seed 001's
folder form, test the generated JSON.
"""

import base64
from pathlib import Path

from tests.helpers.datasets import (
    BLUE,
    GREEN,
    RED,
    Expected,
    image_bytes,
    same_color,
    write_bytes,
    write_image,
    write_json,
    write_jsonl,
)
from vidray import prompts

IMAGES = "flickr30k-images"
TSV = "train_imgs.tsv"


def tsv_lines() -> bytes:
    lines = [
        f"1000092795\t{base64.b64encode(image_bytes(64, 48, RED)).decode()}",
        # Chinese-CLIP reads with urlsafe_b64decode: that alphabet is read too
        f"1001465944\t{base64.urlsafe_b64encode(image_bytes(48, 64, GREEN, 'PNG')).decode()}",
        f"1001573224\t{base64.b64encode(image_bytes(64, 48, BLUE)).decode()}",
        "1002\tnot*base64!",  # a corrupt line: its caption is an error row
    ]
    return ("\r\n".join(lines[:2]) + "\r\n" + "\n".join(lines[2:]) + "\n").encode()


def build(root: Path) -> Expected:
    write_bytes(root / TSV, tsv_lines())
    write_jsonl(
        root / "train_texts.jsonl",
        [
            {"text_id": 0, "text": "两个年轻人在户外。", "image_ids": [1000092795]},
            {"text_id": 1, "text": "两个穿绿衬衫的男人。", "image_ids": [1000092795]},
            # one text on two images: a row per image
            {"text_id": 2, "text": "一只狗在草地上奔跑。", "image_ids": [1001465944, 1001573224]},
            {"text_id": 3, "text": "图片不见了。", "image_ids": [999]},
            {"text_id": 5, "text": "坏图片。", "image_ids": [1002]},
        ],
        raw_lines=('{"text_id": 4, "text": "坏',),
    )
    # the seed's generated copy of the same split: not read twice
    write_json(
        root / "flickr30k_cn_train.json",
        [{"image": f"{IMAGES}/1000092795.jpg", "caption": "两个年轻人在户外。", "image_id": 0}],
    )
    # the seed's folder form (val, test): no tsv for these splits
    write_image(root / IMAGES / "1001465944.jpg", 48, 64, GREEN)
    write_image(root / IMAGES / "1001573224.jpg", 64, 48, BLUE)
    write_jsonl(
        root / "val_texts.jsonl", [{"text_id": 10, "text": "蓝色。", "image_ids": [1001573224]}]
    )
    write_json(
        root / "flickr30k_cn_test.json",
        [{"image": f"{IMAGES}/1001465944.jpg", "caption": ["绿色的。", "草地。"]}],
    )

    def check(by_id: dict[str, dict]) -> None:
        assert by_id["flickr30k-cn:0"]["conversations"][1]["value"] == "两个年轻人在户外。"
        # red is only in the tsv: no image folder holds it
        assert same_color(by_id["flickr30k-cn:0"]["frames"][0], RED)
        assert by_id["flickr30k-cn:0"]["video"] == f"{TSV}#1000092795"
        dog_green = by_id["flickr30k-cn:2/1001465944"]
        dog_blue = by_id["flickr30k-cn:2/1001573224"]
        assert dog_green["conversations"][1] == dog_blue["conversations"][1]
        assert same_color(dog_green["frames"][0], GREEN) and same_color(dog_blue["frames"][0], BLUE)
        assert (dog_green["width"], dog_green["height"]) == (32, 43)
        assert dog_blue["video"] == f"{TSV}#1001573224"
        assert by_id["flickr30k-cn:1"]["query"] in prompts.BUILTIN_IMAGE_PROMPTS_ZH

    return Expected(
        rows={
            "flickr30k-cn:0",
            "flickr30k-cn:1",
            "flickr30k-cn:2/1001465944",
            "flickr30k-cn:2/1001573224",
        },
        errors={
            "flickr30k-cn:3": "missing_image",
            "flickr30k-cn:5": "decode_error",
            "flickr30k-cn:train_texts.jsonl#5": "bad_annotation",
        },
        check=check,
        skipped=["flickr30k_cn_train.json"],
    )
