"""Flickr30k-CN: Chinese-CLIP's texts joined to their images by ``image_ids``, the images
read from the release's tsv (or seed 001's image folder), or the seed's generated JSON
when the jsonl is not there."""

from __future__ import annotations

import base64
import io

import pytest

from tests.helpers.datasets import image_bytes, same_color
from tests.helpers.datasets.flickr30k_cn import BLUE, TSV
from vidray import prompts
from vidray.io import storage
from vidray.sources import SourceContext, flickr30k_cn, get
from vidray.sources.flickr30k_cn import decode_b64, index_tsv

SOURCE = "flickr30k-cn"
IMAGES = "flickr30k-images"


def test_each_text_is_joined_to_every_image_its_image_ids_list(harness, fixture):
    root, _ = fixture
    pairs = sorted(
        (c.id, s.video, c.turns[1][1], s.error[0] if s.error else None)
        for s in harness.samples(root)
        for c in s.conversations
    )
    assert pairs == [
        ("flickr30k-cn:0", f"{TSV}#1000092795", "两个年轻人在户外。", None),
        ("flickr30k-cn:1", f"{TSV}#1000092795", "两个穿绿衬衫的男人。", None),
        ("flickr30k-cn:2/1001465944", f"{TSV}#1001465944", "一只狗在草地上奔跑。", None),
        ("flickr30k-cn:2/1001573224", f"{TSV}#1001573224", "一只狗在草地上奔跑。", None),
        ("flickr30k-cn:3", f"{TSV}#999", "图片不见了。", "missing_image"),
        ("flickr30k-cn:5", f"{TSV}#1002", "坏图片。", "decode_error"),
    ]


def test_the_release_tsv_carries_the_images_read_by_range_from_one_index(fixture, monkeypatch):
    """Chinese-CLIP's release has no image folder: each image comes from its tsv line.
    The tsv is indexed once for all the captions of the split (not once per caption),
    and the index holds byte ranges, not images."""
    root, _ = fixture
    calls = []
    real = flickr30k_cn.index_tsv

    def counted(f):
        calls.append(1)
        return real(f)

    monkeypatch.setattr(flickr30k_cn, "index_tsv", counted)
    src, loc = get(SOURCE), storage.location(str(root))
    samples = {s.video: s for s in src.samples(loc, "train_texts.jsonl")}
    assert len(calls) == 1
    (index,) = src._indexes.values()
    assert all(isinstance(o, int) and isinstance(n, int) for o, n in index.values())
    assert samples[f"{TSV}#1001573224"].images == [image_bytes(64, 48, BLUE)]
    assert samples[f"{TSV}#1000092795"].images[0][:2] == b"\xff\xd8"
    assert len(samples[f"{TSV}#1000092795"].conversations) == 2  # one image, read once
    # --limit counts the samples without indexing the tsv or reading an image
    assert src.count(loc, "train_texts.jsonl", 100) == len(samples) and len(calls) == 1


def test_a_bad_tsv_line_or_a_missing_id_is_an_error_row_with_its_reason(harness, fixture, tmp_path):
    _, by_id = harness.convert_expected(fixture, tmp_path / "out")
    assert by_id["flickr30k-cn:3"]["message"] == f"no line for image 999 in {TSV}"
    assert by_id["flickr30k-cn:5"]["message"].startswith(
        f"image 1002 in {TSV} is not a base64 image:"
    )


def test_the_tsv_index_and_its_decoding():
    red = image_bytes()
    text = (
        b"7\t" + base64.b64encode(red) + b"\r\n"
        b"8\t" + base64.urlsafe_b64encode(red) + b"\n"
        b"\n"
        b"9\n"  # no image after the id
        b"7\tAAAA\n"  # a repeated id: the first line wins
    )
    index = index_tsv(io.BytesIO(text))
    assert set(index) == {"7", "8", "9"}
    for key in ("7", "8"):
        offset, size = index[key]
        assert decode_b64(text[offset : offset + size]) == red
    offset, size = index["9"]
    with pytest.raises(ValueError, match="no image"):
        decode_b64(text[offset : offset + size])
    with pytest.raises(ValueError):
        decode_b64(b"not*base64!")


def test_the_jsonl_wins_over_the_generated_copy_which_is_reported(fixture):
    root, _ = fixture
    src, loc = get(SOURCE), storage.location(str(root))
    assert src.units(loc) == ["train_texts.jsonl"]
    assert src.skipped_units(loc) == ["flickr30k_cn_train.json"]
    # the seed's tree names the validation texts val_texts.jsonl (Chinese-CLIP: valid_)
    assert get(SOURCE, SourceContext.of(split="val")).units(loc) == ["val_texts.jsonl"]
    # no jsonl for test: the generated BLIP-form copy is read
    assert get(SOURCE, SourceContext.of(split="test")).units(loc) == ["flickr30k_cn_test.json"]


def test_without_a_tsv_the_texts_join_the_seeds_image_folder(harness, fixture, tmp_path):
    root, _ = fixture
    rows, errors = harness.convert(root, tmp_path / "out", split="val")
    assert not errors
    (row,) = rows
    assert (row["id"], row["video"]) == ("flickr30k-cn:10", f"{IMAGES}/1001573224.jpg")
    assert same_color(row["frames"][0], BLUE)


def test_generated_json_rows_and_chinese_instructions(harness, fixture, tmp_path):
    root, _ = fixture
    rows, errors = harness.convert(root, tmp_path / "out", split="test")
    assert not errors
    assert [(r["id"], r["conversations"][1]["value"]) for r in rows] == [
        (f"flickr30k-cn:{IMAGES}/1001465944.jpg#0", "绿色的。"),
        (f"flickr30k-cn:{IMAGES}/1001465944.jpg#1", "草地。"),
    ]
    for r in rows:
        assert r["query"] == prompts.draw(prompts.BUILTIN_IMAGE_PROMPTS_ZH, r["id"], 0)
    mine = harness.samples(root, split="test", image_prompts=("描述。",))
    assert {c.query for s in mine for c in s.conversations} == {"描述。"}
