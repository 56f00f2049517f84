"""Perception Test: ``mc_question_val/validation-00000-of-00001.parquet`` (the
lmms-lab/PerceptionTest_Val hub parquet: answers present, ``answer_id`` a string) +
``videos/<video_name>.mp4``, one saved as ``.MP4`` (lmms-eval's loader tries both);
the test parquet next to it withholds its answers."""

from pathlib import Path

import pyarrow as pa

from tests.helpers.datasets import Expected, assert_row, write_parquet, write_videos

VAL = "mc_question_val/validation-00000-of-00001.parquet"
TEST = "mc_question_test/test-00000-of-00001.parquet"

SCHEMA = pa.schema(
    [
        ("video_name", pa.string()),
        ("question_id", pa.string()),
        ("question", pa.string()),
        ("options", pa.list_(pa.string())),
        ("answer_id", pa.string()),
        ("area", pa.string()),
        ("reasoning", pa.string()),
        ("tag", pa.list_(pa.string())),
    ]
)

OPTIONS = ["a cup", "a spoon", "a towel"]


def row(video: str, qid: str, answer_id: str, options: list[str] = OPTIONS) -> dict:
    return {
        "video_name": video,
        "question_id": qid,
        "question": "Which object did the person put down first?",
        "options": options,
        "answer_id": answer_id,
        "area": "memory",
        "reasoning": "descriptive",
        "tag": ["sequencing", "object recognition"],
    }


def build(root: Path) -> Expected:
    write_videos(root / "videos", {"video_10909.mp4": 4.0, "video_7000.MP4": 3.0})
    write_parquet(
        root / VAL,
        [
            row("video_10909", "0", "2"),
            # a second question on the same video: decoded once
            {**row("video_10909", "1", "0"), "question": "How many cups are on the table?"},
            row("video_7000", "0", "1"),
            row("video_9999", "0", "0"),  # no such video
            row("video_7000", "1", "7"),  # answer outside the options
        ],
        SCHEMA,
    )
    # answers withheld: must never be read
    write_parquet(root / TEST, [row("video_7000", "5", "")], SCHEMA)

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["perceptiontest:video_10909:0"]
        assert_row(
            r,
            turns=[
                "<image>\nWhich object did the person put down first?\n"
                "Please choose the right answer from the following options:\n"
                "A. a cup\nB. a spoon\nC. a towel",
                "C. a towel",
            ],
            query="Which object did the person put down first?",
            video="video_10909.mp4",
        )
        r = by_id["perceptiontest:video_10909:1"]
        assert r["conversations"][1]["value"] == "A. a cup"
        assert r["query"] == "How many cups are on the table?"
        assert r["frames"] == by_id["perceptiontest:video_10909:0"]["frames"]
        assert by_id["perceptiontest:video_7000:0"]["conversations"][1]["value"] == "B. a spoon"
        assert by_id["perceptiontest:video_7000:0"]["video"] == "video_7000.MP4"

    return Expected(
        rows={
            "perceptiontest:video_10909:0",
            "perceptiontest:video_10909:1",
            "perceptiontest:video_7000:0",
        },
        errors={
            "perceptiontest:video_9999:0": "missing_video",
            f"perceptiontest:{VAL}#4": "bad_annotation",
        },
        check=check,
    )
