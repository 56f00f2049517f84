"""Flickr30k-CN: ``flickr30k-images/*.jpg`` + Chinese-CLIP's ``{split}_texts.jsonl``, or
the seed's generated ``flickr30k_cn_{split}.json``.

Layout source: seed 001's directory trees (before and after its
``generate_flickr30k_cn_json.py``) and that script: it reads ``train_texts.jsonl``,
``valid_texts.jsonl``, ``test_texts.jsonl`` (lines ``{"text_id", "text", "image_ids"}``,
integer image ids) and writes BLIP's shapes (train: a record per caption; val/test: a
record per image with a caption list). The seed's tree names ``val_texts.jsonl``.
"""

from pathlib import Path

from tests.datasets import Expected, same_color, write_image, write_json, write_jsonl
from vidray import prompts

RED, GREEN, BLUE = (200, 40, 40), (40, 190, 60), (30, 60, 210)
IMAGES = "flickr30k-images"


def build(root: Path) -> Expected:
    write_image(root / IMAGES / "1000092795.jpg", 64, 48, RED)
    write_image(root / IMAGES / "1001465944.jpg", 48, 64, GREEN)
    write_image(root / IMAGES / "1001573224.jpg", 64, 48, BLUE)
    write_jsonl(
        root / "train_texts.jsonl",
        [
            {"text_id": 0, "text": "两个年轻人在户外。", "image_ids": [1000092795]},
            {"text_id": 1, "text": "两个穿绿衬衫的男人。", "image_ids": [1000092795]},
            # one text on two images: a row per image
            {"text_id": 2, "text": "一只狗在草地上奔跑。", "image_ids": [1001465944, 1001573224]},
            {"text_id": 3, "text": "图片不见了。", "image_ids": [999]},
        ],
        raw_lines=('{"text_id": 4, "text": "坏',),
    )
    # the seed's generated copy of the same split: not read twice
    write_json(
        root / "flickr30k_cn_train.json",
        [{"image": f"{IMAGES}/1000092795.jpg", "caption": "两个年轻人在户外。", "image_id": 0}],
    )
    write_jsonl(
        root / "val_texts.jsonl", [{"text_id": 10, "text": "蓝色。", "image_ids": [1001573224]}]
    )
    write_json(
        root / "flickr30k_cn_test.json",
        [{"image": f"{IMAGES}/1001465944.jpg", "caption": ["绿色的。", "草地。"]}],
    )

    def check(rows: list[dict]) -> None:
        by_id = {r["id"]: r for r in rows}
        assert by_id["flickr30k-cn:0"]["conversations"][1]["value"] == "两个年轻人在户外。"
        assert same_color(by_id["flickr30k-cn:0"]["frames"][0], RED)
        dog_green = by_id["flickr30k-cn:2/1001465944"]
        dog_blue = by_id["flickr30k-cn:2/1001573224"]
        assert dog_green["conversations"][1] == dog_blue["conversations"][1]
        assert same_color(dog_green["frames"][0], GREEN) and same_color(dog_blue["frames"][0], BLUE)
        assert dog_blue["video"] == f"{IMAGES}/1001573224.jpg"
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
            "flickr30k-cn:train_texts.jsonl#4": "bad_annotation",
        },
        check=check,
        skipped=["flickr30k_cn_train.json"],
    )
