"""DiDeMo: LocalizingMoments' ``{train,val,test}_data.json`` (the fields its data
README lists; formats.md leaves the layout unconfirmed) + Flickr videos under
``videos/`` whose extensions differ from the annotated names, raw uploads among them
(``.3gp`` H.264, ``.WMV`` Windows Media in ASF, upper case)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.datasets import Expected, assert_row, write_bytes, write_json, write_videos
from vidray import prompts, synth

A = "10015567@N08_3655084291_d8b58466fa.mov"  # downloaded as .mp4
B = "10120117@N03_4314839389_a8bf2a6d35.m4v"  # downloaded as .m4v
C = "10206271@N02_2942446862_8c48a6d8ef"  # named without an extension, file is .mov
E = "10445128@N03_4316917870_e5e4cd1b3b.avi"  # the AWS script's name: <video>.mp4
PHONE = "23479478@N00_2550232385_7a8b1a2c3d.3gp"  # kept as uploaded
WMV = "49203592@N00_3411425542_9f0e1d2c3b.wmv"  # kept as uploaded, saved as .WMV


def raw_upload(container: str, codec: str, seed: int) -> bytes:
    spec = synth.VideoSpec(num_frames=60, fps=10, width=96, height=64, seed=seed)
    return synth.encode_video(spec, container=container, codec=codec)


def annotation(aid: int, video: str, description: str, times: list, **extra: object) -> dict:
    return {
        "annotation_id": aid,
        "description": description,
        "video": video,
        "times": times,
        "download_link": f"https://www.flickr.com/video_download.gne?id={aid}",
        "num_segments": 6,
        **extra,
    }


def build(root: Path) -> Expected:
    videos = root / "videos"
    # Real DiDeMo videos are 25-30 s; these are short, so only segment 0 (0-5 s) fits.
    write_videos(
        videos,
        {
            "10015567@N08_3655084291_d8b58466fa.mp4": 6.0,
            "10120117@N03_4314839389_a8bf2a6d35.m4v": 5.5,
            "10206271@N02_2942446862_8c48a6d8ef.mov": 6.0,
            f"{E}.mp4": 6.0,
        },
    )
    write_bytes(videos / PHONE, raw_upload("3gp", "libx264", 4))
    write_bytes(videos / WMV.replace(".wmv", ".WMV"), raw_upload("asf", "wmv2", 5))
    write_json(
        root / "train_data.json",
        [
            # three of four annotators chose segment 0
            annotation(3001, A, "the dog jumps into the water", [[0, 0], [0, 0], [0, 1], [0, 0]]),
            # the same moment of the same video: decoded once
            annotation(3002, A, "a dog leaps off the dock", [[0, 0], [1, 1], [0, 0], [0, 0]]),
            # segment 1 (5-10 s) ends after the 6 s video
            annotation(3003, A, "the dog swims back", [[1, 1], [1, 1], [1, 2], [1, 1]]),
            # 0..5 of 6 segments: the whole video, no span
            annotation(3004, B, "a band plays on a stage", [[0, 5], [0, 5], [0, 4], [1, 5]]),
            # a tie between (1, 1) and (0, 0): the earliest wins
            annotation(3005, C, "a child opens a gift", [[1, 1], [0, 0], [1, 1], [0, 0]]),
            annotation(3006, E, "cars drive past the camera", [[0, 0], [0, 0], [0, 0], [0, 0]]),
            annotation(3007, "missing@N00_1_x.mp4", "nobody is there", [[0, 0]]),
            annotation(3009, PHONE, "a man waves at the phone", [[0, 0], [0, 0]]),
            annotation(3010, WMV, "snow falls on a car", [[0, 0], [0, 0]]),
            # not a [start, end] pair
            annotation(3008, A, "the dog shakes off water", [[2], [1, 1]]),
        ],
    )
    write_json(
        root / "val_data.json",
        [
            # (1, 5): from 5 s to the end of the video, whatever its length
            annotation(4001, A, "the dog runs to its owner", [[1, 5], [1, 5], [2, 5], [1, 4]]),
            # a video of 5 segments: its last segment is 4
            annotation(4002, B, "the crowd cheers", [[0, 4], [0, 4]], num_segments=5),
        ],
    )
    write_json(
        root / "test_data.json",
        [annotation(5001, C, "a child laughs", [[0, 0], [0, 0], [0, 0]])],
    )

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["didemo:3001"]
        instruction = prompts.draw(prompts.BUILTIN_PROMPTS, "didemo:3001", 0)
        assert_row(
            r,
            turns=[f"<image>\n{instruction}", "the dog jumps into the water"],
            query=instruction,
            video="10015567@N08_3655084291_d8b58466fa.mp4",
            clip=(0.0, 5.0),
            frames=by_id["didemo:3002"]["frames"],
        )
        r = by_id["didemo:3004"]
        assert (r["clip_start"], r["clip_end"]) == (None, None)
        assert r["video"] == "10120117@N03_4314839389_a8bf2a6d35.m4v"
        assert (by_id["didemo:3005"]["clip_start"], by_id["didemo:3005"]["clip_end"]) == (0, 5)
        assert by_id["didemo:3005"]["video"] == f"{C}.mov"
        assert by_id["didemo:3006"]["video"] == f"{E}.mp4"
        assert by_id["didemo:3009"]["video"] == PHONE
        assert by_id["didemo:3010"]["video"] == WMV.replace(".wmv", ".WMV")
        assert all(len(by_id[f"didemo:{k}"]["frames"]) == 4 for k in (3009, 3010))

    return Expected(
        rows={
            "didemo:3001",
            "didemo:3002",
            "didemo:3004",
            "didemo:3005",
            "didemo:3006",
            "didemo:3009",
            "didemo:3010",
        },
        errors={
            "didemo:3003": "bad_span",
            "didemo:3007": "missing_video",
            "didemo:train_data.json#9": "bad_annotation",
        },
        check=check,
    )
