"""M3IT: ``data/<task group>/<dataset>/{train,val,test}.jsonl`` with base64 images, and
each dataset's ``instructions.json``.

Layout source: the hub repository's tree (``data/captioning/coco/``,
``data/vqa/msrvtt-qa/``, ... each with ``README.md``, ``instructions.json`` and the
split files) and its card's loading example (``instruction``, ``inputs``, ``outputs``,
``image_base64_str`` a list decoded with ``b64decode``). The video tasks' records hold
their sampled frames in that list.

Not every hub file is in that instance form: the hub loader (``M3IT.py``) maps
``captioning/coco``'s raw lines ``{"image": base64, "meta": {"img_id", "targets":
[captions]}}`` to an instance per target (instruction from ``instructions.json``, empty
inputs), and ``vqa/activitynet-qa``'s ``{"video_str": [base64 frames], "question",
"answer"}``. The instance-form captioning records here sit in ``captioning/textcap``.
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
    write_json,
    write_jsonl,
)

#: Eight frames of a video task, each of its own colour, in order.
FRAME_COLORS = [(20 + 28 * k, 200 - 20 * k, 60 + 15 * k) for k in range(8)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def record(instruction: str, inputs: str, images: list[bytes], outputs: str) -> dict:
    return {
        "instruction": instruction,
        "inputs": inputs,
        "image_base64_str": [b64(i) for i in images],
        "outputs": outputs,
    }


def build(root: Path) -> Expected:
    data = root / "data"
    coco = data / "captioning" / "coco"
    write_bytes(coco / "README.md", b"# coco\n")
    write_json(coco / "instructions.json", ["Caption the image.", "Write a caption."])
    # the hub's raw captioning form: an instance per target
    write_jsonl(
        coco / "train.jsonl",
        [
            {
                "image": b64(image_bytes(64, 48, BLUE)),
                "meta": {"img_id": "391895", "targets": ["A blue square.", "Blue  tiles."]},
            },
            {"image": "not*base64!", "meta": {"img_id": "1", "targets": ["Bad."]}},
        ],
    )
    activity = data / "vqa" / "activitynet-qa"
    write_json(activity / "instructions.json", ["Answer the question based on the video."])
    write_jsonl(
        activity / "train.jsonl",
        [
            {
                "video_str": [b64(image_bytes(48, 32, c)) for c in FRAME_COLORS[:4]],
                "question": "what is the man doing",
                "answer": "cooking",
            }
        ],
    )
    # a form this source does not map: reported once, not an error row per line
    unknown = data / "vqa" / "unknown-form"
    write_jsonl(unknown / "train.jsonl", [{"img": "x", "q": "?"}, {"img": "y", "q": "?"}])
    textcap = data / "captioning" / "textcap"
    write_json(
        textcap / "instructions.json",
        ["Write a short caption for the image.", "Describe the image."],
    )
    write_jsonl(
        textcap / "train.jsonl",
        [
            record(
                "Write a short caption for the image.",
                "",
                [image_bytes(64, 48, RED)],
                "A red square.",
            ),
            # no instruction: one is drawn from instructions.json
            {
                "inputs": "",
                "image_base64_str": [b64(image_bytes(64, 48, GREEN, "PNG"))],
                "outputs": "Green.",
            },
        ],
    )
    write_jsonl(
        textcap / "val.jsonl", [record("Caption it.", "", [image_bytes(40, 40, BLUE)], "Blue.")]
    )
    vqa = data / "vqa" / "vqa-v2"
    write_json(vqa / "instructions.json", ["Answer the question."])
    write_jsonl(
        vqa / "train.jsonl",
        [
            record(
                "Answer the question.", "What colour is it?", [image_bytes(64, 48, BLUE)], "Blue."
            ),
            # corrupt base64: the record is an error row
            {
                "instruction": "Answer.",
                "inputs": "Q?",
                "image_base64_str": ["not*base64!"],
                "outputs": "A.",
            },
            # valid base64, but not an image
            record("Answer the question.", "What is it?", [b"hello, not an image"], "Nothing."),
        ],
    )
    video = data / "vqa" / "msrvtt-qa"
    write_json(video / "instructions.json", ["Watch the frames and answer."])
    frames = [image_bytes(48, 32, c) for c in FRAME_COLORS]
    write_jsonl(
        video / "train.jsonl",
        [record("Watch the frames and answer.", "What happens?", frames, "A man cooks.")],
    )
    vist = data / "generation" / "vist"  # no instructions.json
    write_jsonl(
        vist / "train.jsonl",
        [
            record(
                "Tell a story.", "", [image_bytes(64, 48, RED), image_bytes(32, 64, GREEN)], "Once."
            ),
            {"inputs": "", "image_base64_str": [b64(image_bytes())], "outputs": "No instruction."},
        ],
    )

    def check(by_id: dict[str, dict]) -> None:
        cap = by_id["m3it:captioning/textcap/train#0"]
        assert cap["conversations"] == [
            {"from": "human", "value": "<image>\nWrite a short caption for the image."},
            {"from": "gpt", "value": "A red square."},
        ]
        assert cap["video"] == "data/captioning/textcap/train.jsonl#0"
        assert same_color(cap["frames"][0], RED)
        drawn = by_id["m3it:captioning/textcap/train#1"]
        assert drawn["query"] in ("Write a short caption for the image.", "Describe the image.")
        assert same_color(drawn["frames"][0], GREEN)
        qa = by_id["m3it:vqa/vqa-v2/train#0"]
        assert qa["query"] == "Answer the question.\nWhat colour is it?"
        clip = by_id["m3it:vqa/msrvtt-qa/train#0"]
        assert len(clip["frames"]) == 8 and clip["frame_timestamps"] == []
        assert all(same_color(f, c) for f, c in zip(clip["frames"], FRAME_COLORS, strict=True))
        coco = [by_id[f"m3it:captioning/coco/train#0/{k}"] for k in (0, 1)]
        assert [r["conversations"][1]["value"] for r in coco] == ["A blue square.", "Blue tiles."]
        assert all(r["query"] in ("Caption the image.", "Write a caption.") for r in coco)
        assert coco[0]["video"] == "data/captioning/coco/train.jsonl#0"
        assert same_color(coco[0]["frames"][0], BLUE)
        anet = by_id["m3it:vqa/activitynet-qa/train#0"]
        assert anet["conversations"] == [
            {
                "from": "human",
                "value": "<image>\nAnswer the question based on the video.\nwhat is the man doing",
            },
            {"from": "gpt", "value": "cooking"},
        ]
        assert len(anet["frames"]) == 4 and same_color(anet["frames"][3], FRAME_COLORS[3])
        story = by_id["m3it:generation/vist/train#0"]
        assert (story["width"], story["height"]) == (43, 32)  # the first image's size
        assert same_color(story["frames"][1], GREEN)

    return Expected(
        rows={
            "m3it:captioning/coco/train#0/0",
            "m3it:captioning/coco/train#0/1",
            "m3it:vqa/activitynet-qa/train#0",
            "m3it:captioning/textcap/train#0",
            "m3it:captioning/textcap/train#1",
            "m3it:vqa/vqa-v2/train#0",
            "m3it:vqa/msrvtt-qa/train#0",
            "m3it:generation/vist/train#0",
        },
        errors={
            "m3it:data/captioning/coco/train.jsonl#1": "bad_annotation",
            "m3it:data/vqa/vqa-v2/train.jsonl#1": "bad_annotation",
            "m3it:vqa/vqa-v2/train#2": "decode_error",
            "m3it:data/generation/vist/train.jsonl#1": "bad_annotation",
        },
        check=check,
        skipped=["data/vqa/unknown-form/train.jsonl"],
    )
