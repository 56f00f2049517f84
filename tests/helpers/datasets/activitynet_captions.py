"""ActivityNet Captions: ``train.json``, ``val_1.json``, ``val_2.json`` (a JSON object
keyed by ``v_<id>``) + ActivityNet videos under ``videos/``, with or without ``v_``.

Layout source: formats.md's ActivityNet Captions row; not re-checked against a primary
file in issue 9.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.datasets import Expected, assert_row, write_json, write_video
from tests.helpers.datasets.activitynet_qa import write_matroska
from vidray import prompts


def build(root: Path) -> Expected:
    videos = root / "videos"
    write_video(videos / "v_QOlSCBRmfWY.mp4", seconds=6.0)
    # a mirror that dropped the v_ prefix, in a Matroska container
    write_matroska(videos / "ehGHCYKzyZ8.mkv", seconds=4.0, seed=1)
    write_video(videos / "v_nwznKOuZM7w.mp4", seconds=4.0, seed=2)
    write_json(
        root / "train.json",
        {
            "v_QOlSCBRmfWY": {
                "duration": 6.0,
                "timestamps": [[0.5, 2.5], [0.5, 2.5], [3.0, 5.5], [4.0, 9.0]],
                "sentences": [
                    " A woman is seen speaking to the camera.",
                    "She stands in a kitchen. ",
                    " She picks up a knife and cuts a lemon.",
                    # past the end of the 6 s video: an error row, not a clamped clip
                    " She smiles and waves goodbye.",
                ],
            },
            "v_ehGHCYKzyZ8": {
                "duration": 4.0,
                "timestamps": [[0, 3.9]],
                "sentences": ["A man rides a bike down a hill."],
            },
            # three timestamps, two sentences
            "v_nwznKOuZM7w": {
                "duration": 4.0,
                "timestamps": [[0, 1], [1, 2], [2, 3]],
                "sentences": ["A dog runs.", "It jumps."],
            },
            "v_-vnSFKJNB94": {
                "duration": 20.0,
                "timestamps": [[0, 10]],
                "sentences": ["Two people play tennis."],
            },
        },
    )
    write_json(
        root / "val_1.json",
        {"v_ehGHCYKzyZ8": {"duration": 4.0, "timestamps": [[1, 3]], "sentences": ["Biking."]}},
    )
    write_json(
        root / "val_2.json",
        {"v_ehGHCYKzyZ8": {"duration": 4.0, "timestamps": [[0, 2]], "sentences": ["A hill."]}},
    )

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["activitynet-captions:v_QOlSCBRmfWY:1"]
        instruction = prompts.draw(
            prompts.BUILTIN_PROMPTS, "activitynet-captions:v_QOlSCBRmfWY:1", 0
        )
        assert_row(
            r,
            turns=[f"<image>\n{instruction}", "She stands in a kitchen."],
            query=instruction,
            clip=(0.5, 2.5),
            frames=by_id["activitynet-captions:v_QOlSCBRmfWY:0"]["frames"],
        )
        r = by_id["activitynet-captions:v_QOlSCBRmfWY:2"]
        assert (r["clip_start"], r["clip_end"]) == (3.0, 5.5)
        assert all(3.0 - 0.1 <= t < 5.5 for t in r["frame_timestamps"])
        r = by_id["activitynet-captions:v_ehGHCYKzyZ8:0"]
        assert r["video"] == "ehGHCYKzyZ8.mkv"
        assert (r["clip_start"], r["clip_end"]) == (0.0, 3.9)

    return Expected(
        rows={
            "activitynet-captions:v_QOlSCBRmfWY:0",
            "activitynet-captions:v_QOlSCBRmfWY:1",
            "activitynet-captions:v_QOlSCBRmfWY:2",
            "activitynet-captions:v_ehGHCYKzyZ8:0",
        },
        errors={
            "activitynet-captions:v_QOlSCBRmfWY:3": "bad_span",
            "activitynet-captions:train.json#v_nwznKOuZM7w": "bad_annotation",
            "activitynet-captions:v_-vnSFKJNB94:0": "missing_video",
        },
        check=check,
    )
