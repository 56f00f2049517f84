"""M3IT: the images are base64 inside the JSON lines; a video task's frames are a row's
images, in order; a corrupt image is an error row."""

from __future__ import annotations

import base64

import pytest

from tests.helpers.datasets import image_bytes, same_color
from tests.helpers.datasets.m3it import FRAME_COLORS
from vidray import prompts
from vidray.io import storage
from vidray.sources import get
from vidray.sources.base import BadAnnotation
from vidray.sources.m3it import decode_images

SOURCE = "m3it"


def test_base64_frames_travel_in_the_sample_in_their_order(harness, fixture):
    root, _ = fixture
    samples = {s.video: s for s in harness.samples(root)}
    clip = samples["data/vqa/msrvtt-qa/train.jsonl#0"]
    assert clip.media == "image" and not clip.error
    assert len(clip.images) == 8 and clip.images[0][:2] == b"\xff\xd8"
    (conv,) = clip.conversations
    assert conv.turns == (
        ("human", "<image>\nWatch the frames and answer.\nWhat happens?"),
        ("gpt", "A man cooks."),
    )


def test_video_task_frames_become_the_rows_images(harness, fixture, tmp_path):
    root, _ = fixture
    rows, _ = harness.convert(root, tmp_path / "out")
    clip = next(r for r in rows if r["id"] == "m3it:vqa/msrvtt-qa/train#0")
    assert [same_color(f, c) for f, c in zip(clip["frames"], FRAME_COLORS, strict=True)] == [
        True
    ] * 8
    assert (clip["width"], clip["height"]) == (48, 32)  # short side 32, as asked


def test_a_missing_instruction_is_drawn_from_instructions_json(harness, fixture):
    root, _ = fixture
    for seed in (0, 1, 2):
        convs = harness.conversations(root, seed=seed)
        pool = ("Write a short caption for the image.", "Describe the image.")
        cid = "m3it:captioning/textcap/train#1"
        assert convs[cid].query == prompts.draw(pool, cid, seed)


def test_corrupt_images_are_error_rows(harness, fixture, tmp_path):
    _, by_id = harness.convert_expected(fixture, tmp_path / "out")
    assert (
        "image 0 of 'image_base64_str' is not base64"
        in by_id["m3it:data/vqa/vqa-v2/train.jsonl#1"]["message"]
    )
    assert "is unreadable" in by_id["m3it:vqa/vqa-v2/train#2"]["message"]
    message = by_id["m3it:data/generation/vist/train.jsonl#1"]["message"]
    assert (
        message
        == "no 'instruction', and no data/generation/vist/instructions.json to draw one from"
    )


def test_splits_read_their_own_files(harness, fixture):
    root, _ = fixture
    ids = harness.conversation_ids(root, split="val")
    assert ids == ["m3it:captioning/textcap/val#0"]


def test_decode_images_accepts_a_data_url_and_refuses_the_rest():
    jpeg = image_bytes(8, 8)
    text = base64.b64encode(jpeg).decode()
    assert decode_images([text, "data:image/jpeg;base64," + text]) == [jpeg, jpeg]
    assert decode_images(text) == [jpeg]
    for bad in ([], None, [""], [3], ["abc"]):
        with pytest.raises(BadAnnotation):
            decode_images(bad)


def test_the_hub_loaders_raw_forms_are_mapped_to_instances(harness, fixture):
    """captioning/coco's lines are {image, meta: {targets}}: an instance per target, one
    image decoded once; activitynet-qa's are {video_str, question, answer}."""
    root, _ = fixture
    samples = {s.video: s for s in harness.samples(root)}
    coco = samples["data/captioning/coco/train.jsonl#0"]
    assert not coco.error and len(coco.images) == 1
    assert [(c.id, c.turns[1][1]) for c in coco.conversations] == [
        ("m3it:captioning/coco/train#0/0", "A blue square."),
        ("m3it:captioning/coco/train#0/1", "Blue tiles."),
    ]
    pool = ("Caption the image.", "Write a caption.")
    for c in coco.conversations:
        assert c.query == prompts.draw(pool, c.id, 0)
        assert c.turns[0] == ("human", "<image>\n" + c.query)
    anet = samples["data/vqa/activitynet-qa/train.jsonl#0"]
    assert len(anet.images) == 4
    ((conv),) = anet.conversations
    assert conv.turns == (
        ("human", "<image>\nAnswer the question based on the video.\nwhat is the man doing"),
        ("gpt", "cooking"),
    )
    bad = samples["data/captioning/coco/train.jsonl#1"]
    assert bad.error[0] == "bad_annotation"
    assert bad.error[1].startswith("image 0 of 'image' is not base64")


def test_a_file_of_unknown_form_is_reported_once_not_read(harness, fixture, tmp_path):
    root, _ = fixture
    src, loc = get(SOURCE), storage.location(str(root))
    assert "data/vqa/unknown-form/train.jsonl" not in src.units(loc)
    assert src.skipped_units(loc) == ["data/vqa/unknown-form/train.jsonl"]
    _, errors = harness.convert(root, tmp_path / "out")
    assert not [e for e in errors if "unknown-form" in e["id"]]
    # a line of no known form in a file that is read: one error row, its fields named
    with pytest.raises(BadAnnotation, match="no form M3IT's loader maps"):
        list(src.items("data/vqa/vqa-v2/train.jsonl", "9", {"img": "x"}))
