"""MSR-VTT as CLIP4Clip's ``msrvtt_data.zip`` ships it (``MSRVTT_data.json``, the 9k
train list, the 1k-A JSFUSION test csv) + Frozen-in-Time's ``videos/all/``.

Layout source: CLIP4Clip's msrvtt_data.zip and Frozen-in-Time's video archive, per
formats.md; matched the published layout in issue 9's survey.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.datasets import (
    Expected,
    assert_row,
    write_csv,
    write_json,
    write_video,
    write_videos,
)
from vidray import prompts


def video(vid: str, split: str, start: float) -> dict:
    return {
        "category": 9,
        "url": f"https://www.youtube.com/watch?v={vid}",
        "video_id": vid,
        "start time": start,
        "end time": start + 10.0,
        "split": split,
        "id": int(vid.removeprefix("video")),
    }


SENTENCES = [
    {"caption": "a man is playing a guitar on stage", "video_id": "video0", "sen_id": 0},
    # a second caption of the same clip: decoded once
    {"caption": "a musician performs a song", "video_id": "video0", "sen_id": 1},
    {"caption": "a cartoon dog runs across a field", "video_id": "video1", "sen_id": 2},
    {"caption": "   ", "video_id": "video1", "sen_id": 3},
    {"caption": "a woman talks about a recipe", "video_id": "video3", "sen_id": 4},
    {"caption": "a man talks to the camera", "video_id": "video2", "sen_id": 5},
    {"caption": "a woman slices bread", "video_id": "video4", "sen_id": 6},
]


def build(root: Path) -> Expected:
    # the JSON's start/end times refer to the YouTube source: the clips are cut already
    write_json(
        root / "MSRVTT_data.json",
        {
            "info": {"year": 2016, "version": "1.0"},
            "videos": [
                video("video0", "train", 137.72),
                video("video1", "validate", 12.0),
                video("video2", "test", 3.5),
                video("video3", "train", 0.0),
                video("video4", "train", 40.0),
            ],
            "sentences": SENTENCES,
        },
    )
    # the 9k list: video4 (json "train") is left out, video1 (json "validate") is in
    write_csv(root / "MSRVTT_train.9k.csv", ["video_id"], [["video0"], ["video1"], ["video3"]])
    write_csv(
        root / "MSRVTT_JSFUSION_test.csv",
        ["key", "vid_key", "video_id", "sentence"],
        [["ret0", "msr2", "video2", "a man, smiling, talks to the camera"]],
    )
    clips = root / "videos" / "all"
    write_videos(clips, {"video0.mp4": 4.0, "video1.mp4": 3.0, "video2.mp4": 3.0})
    write_video(clips / "video4.mp4", seconds=3.0, seed=4)

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["msrvtt:video0:0"]
        instruction = prompts.draw(prompts.BUILTIN_PROMPTS, "msrvtt:video0:0", 0)
        assert_row(
            r,
            turns=[f"<image>\n{instruction}", "a man is playing a guitar on stage"],
            query=instruction,
            video="video0.mp4",
            clip=(None, None),
            frames=by_id["msrvtt:video0:1"]["frames"],
        )
        assert by_id["msrvtt:video0:1"]["conversations"][1]["value"] == "a musician performs a song"

    return Expected(
        rows={"msrvtt:video0:0", "msrvtt:video0:1", "msrvtt:video1:2"},
        errors={
            "msrvtt:MSRVTT_data.json#3": "bad_annotation",
            "msrvtt:video3:4": "missing_video",
        },
        check=check,
    )
