"""Vript: ``vript_captions/vript_{long,short}_videos_captions.jsonl`` + scene clips
``videos/<video_id>/<clip_id>.mp4``.

Scene numbers have gaps (001, 003, 007), the clip folders also hold the dataset's
``_cut_meta.json`` and ``_asr.jsonl`` files, and every caption's ``shot_type`` differs
from its ``content`` so that a row shows which one was taken.

Layout source: formats.md's Vript row; matched the published layout in issue 9's survey.
"""

from pathlib import Path

from tests.helpers.datasets import (
    Expected,
    assert_row,
    write_bytes,
    write_json,
    write_jsonl,
    write_video,
)
from vidray.sources import SourceContext

LONG = "007EvOaWFOA"
SHORT = "02toZL7p4_0"


def scene(video: str, n: int, content: str, num_clips: int = 12) -> dict:
    return {
        "meta": {
            "video_id": video,
            "video_title": "How to bake sourdough bread at home",
            "num_clips": num_clips,
            "integrity": True,
        },
        "clip_id": f"{video}-Scene-{n:03d}",
        "caption": {
            "shot_type": "Medium shot",
            "camera_movement": "Static",
            "content": content,
            "scene_title": f"Scene {n}",
        },
        "voiceover": [f"voice-over of scene {n}"],
    }


def clip(root: Path, video: str, n: int, seconds: float, seed: int) -> None:
    write_video(root / "videos" / video / f"{video}-Scene-{n:03d}.mp4", seconds, seed=seed)


def build(root: Path) -> Expected:
    for n, seed in ((1, 0), (3, 1), (7, 2)):
        clip(root, LONG, n, 3.0, seed)
    write_json(root / "videos" / LONG / f"{LONG}_cut_meta.json", {"1": [0.0, 3.0]})
    write_bytes(root / "videos" / LONG / f"{LONG}_asr.jsonl", b'{"text": "hello"}\n')
    clip(root, SHORT, 1, 2.0, 3)
    clip(root, SHORT, 2, 2.0, 4)

    broken = scene(LONG, 9, "unused")
    del broken["caption"]["content"]  # only shot_type and friends: not a caption
    write_jsonl(
        root / "vript_captions" / "vript_long_videos_captions.jsonl",
        [
            scene(LONG, 1, "A baker dusts flour over a wooden counter."),
            scene(LONG, 3, "Dough is folded by two hands in a glass bowl."),
            scene(LONG, 7, "A loaf with a dark crust cools on a rack."),
            # the zip held no clip for this scene
            scene(LONG, 10, "The bread is sliced."),
            broken,
        ],
    )
    write_jsonl(
        root / "vript_captions" / "vript_short_videos_captions.jsonl",
        [
            scene(SHORT, 1, "A cat jumps onto a sofa.", num_clips=2),
            scene(SHORT, 2, "The cat falls asleep on a cushion.", num_clips=2),
        ],
    )

    def check(by_id: dict[str, dict]) -> None:
        rid = f"vript:{LONG}-Scene-003"
        r = by_id[rid]
        instruction = SourceContext().instruction(rid)
        assert_row(
            r,
            turns=[f"<image>\n{instruction}", "Dough is folded by two hands in a glass bowl."],
            query=instruction,
            video=f"{LONG}/{LONG}-Scene-003.mp4",
        )
        r = by_id[f"vript:{SHORT}-Scene-002"]
        assert r["conversations"][1]["value"] == "The cat falls asleep on a cushion."
        assert r["video"] == f"{SHORT}/{SHORT}-Scene-002.mp4"

    return Expected(
        rows={
            f"vript:{LONG}-Scene-001",
            f"vript:{LONG}-Scene-003",
            f"vript:{LONG}-Scene-007",
            f"vript:{SHORT}-Scene-001",
            f"vript:{SHORT}-Scene-002",
        },
        errors={
            f"vript:{LONG}-Scene-010": "missing_video",
            "vript:vript_captions/vript_long_videos_captions.jsonl#4": "bad_annotation",
        },
        check=check,
    )
