"""Flickr30k-CN: Chinese-CLIP's texts joined to their images by ``image_ids``, or the
seed's generated JSON when the jsonl is not there."""

from __future__ import annotations

import pytest

from tests.datasets import built, convert_in_process, source_samples
from vidray import prompts
from vidray.io import storage
from vidray.sources import SourceContext, get

NAME = "flickr30k-cn"
IMAGES = "flickr30k-images"


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory):
    return built(NAME, tmp_path_factory)


def test_each_text_is_joined_to_every_image_its_image_ids_list(fixture):
    root, _ = fixture
    pairs = sorted(
        (c.id, s.video, c.turns[1][1])
        for s in source_samples(NAME, root)
        if not s.error
        for c in s.conversations
    )
    assert pairs == [
        ("flickr30k-cn:0", f"{IMAGES}/1000092795.jpg", "两个年轻人在户外。"),
        ("flickr30k-cn:1", f"{IMAGES}/1000092795.jpg", "两个穿绿衬衫的男人。"),
        ("flickr30k-cn:2/1001465944", f"{IMAGES}/1001465944.jpg", "一只狗在草地上奔跑。"),
        ("flickr30k-cn:2/1001573224", f"{IMAGES}/1001573224.jpg", "一只狗在草地上奔跑。"),
        ("flickr30k-cn:3", f"{IMAGES}/999.jpg", "图片不见了。"),
    ]


def test_the_jsonl_wins_over_the_generated_copy_which_is_reported(fixture):
    root, _ = fixture
    src, loc = get(NAME), storage.location(str(root))
    assert src.units(loc) == ["train_texts.jsonl"]
    assert src.skipped_units(loc) == ["flickr30k_cn_train.json"]
    # the seed's tree names the validation texts val_texts.jsonl (Chinese-CLIP: valid_)
    assert get(NAME, SourceContext.of(split="val")).units(loc) == ["val_texts.jsonl"]
    # no jsonl for test: the generated BLIP-form copy is read
    assert get(NAME, SourceContext.of(split="test")).units(loc) == ["flickr30k_cn_test.json"]


def test_generated_json_rows_and_chinese_instructions(fixture, tmp_path):
    root, _ = fixture
    rows, errors = convert_in_process(NAME, root, tmp_path / "out", split="test")
    assert not errors
    assert [(r["id"], r["conversations"][1]["value"]) for r in rows] == [
        (f"flickr30k-cn:{IMAGES}/1001465944.jpg#0", "绿色的。"),
        (f"flickr30k-cn:{IMAGES}/1001465944.jpg#1", "草地。"),
    ]
    for r in rows:
        assert r["query"] == prompts.draw(prompts.BUILTIN_IMAGE_PROMPTS_ZH, r["id"], 0)
    mine = source_samples(NAME, root, split="test", image_prompts=("描述。",))
    assert {c.query for s in mine for c in s.conversations} == {"描述。"}
