"""ActivityNet-QA: ``dataset/{split}_q.json`` + ``dataset/{split}_a.json`` joined on
``question_id``, ActivityNet videos as ``.mp4``, ``.mkv`` and ``.webm`` under
``videos/``, named with or without the ``v_`` prefix.

Layout source: formats.md's ActivityNet-QA row; not re-checked against a primary file in
issue 9.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.datasets import Expected, assert_row, write_bytes, write_json, write_video
from vidray import synth


def encode(seconds: float, fps: int = 10, seed: int = 0, container: str = "webm") -> bytes:
    """A real video in a Matroska-family container: ``webm`` (VP8) or ``matroska``
    (H.264)."""
    spec = synth.VideoSpec(num_frames=round(seconds * fps), fps=fps, width=96, height=64, seed=seed)
    codec = "libvpx" if container == "webm" else "libx264"
    return synth.encode_video(spec, container=container, codec=codec)


def write_matroska(path: Path, seconds: float, seed: int = 0) -> Path:
    """``.webm`` paths get VP8 in WebM, any other path H.264 in Matroska."""
    container = "webm" if path.suffix == ".webm" else "matroska"
    return write_bytes(path, encode(seconds, seed=seed, container=container))


def q(video: str, question: str, qid: str) -> dict:
    return {"video_name": video, "question": question, "question_id": qid}


def a(qid: str, answer: str, kind: int) -> dict:
    return {"answer": answer, "type": kind, "question_id": qid}


def build(root: Path) -> Expected:
    videos = root / "videos"
    # the official download names files v_<id>; ActivityNet-QA's video_name has no v_
    write_video(videos / "v_okC18bPTils.mp4", seconds=6.0)
    write_matroska(videos / "ALjodjboELk.webm", seconds=3.0, seed=1)
    # formats.md says video_name carries the prefix: that direction is accepted too
    write_matroska(videos / "trainval" / "Mzt-E6pxuUI.mkv", seconds=3.0, seed=2)
    dataset = root / "dataset"
    write_json(
        dataset / "train_q.json",
        [
            q("okC18bPTils", "are all the people in the video men", "v_okC18bPTils_3"),
            # a second question on the same video: decoded once
            q("okC18bPTils", "what is the man in white doing ", "v_okC18bPTils_0"),
            q("ALjodjboELk", "is the person outdoors", "v_ALjodjboELk_2"),
            q("v_Mzt-E6pxuUI", "what color is the child's shirt?", "v_Mzt-E6pxuUI_5"),
            q("_ucD-3rUWWE", "are all the people in the video women", "v__ucD-3rUWWE_3"),
            # no answer in train_a.json: an error row, not a silent skip
            q("okC18bPTils", "is the man indoors", "v_okC18bPTils_7"),
            # no question text
            {"video_name": "ALjodjboELk", "question_id": "v_ALjodjboELk_9"},
        ],
    )
    write_json(
        dataset / "train_a.json",
        [
            a("v_okC18bPTils_0", "dance", 0),
            a("v_okC18bPTils_3", "no", 3),
            a("v_ALjodjboELk_2", "yes", 3),
            a("v_Mzt-E6pxuUI_5", "blue", 4),
            a("v__ucD-3rUWWE_3", "no", 3),
            a("v_ALjodjboELk_9", "yes", 3),
        ],
    )
    write_json(dataset / "val_q.json", [q("okC18bPTils", "is it daytime", "v_okC18bPTils_11")])
    write_json(dataset / "val_a.json", [a("v_okC18bPTils_11", "yes", 3)])
    write_json(dataset / "test_q.json", [q("ALjodjboELk", "how many people", "v_ALjodjboELk_4")])
    write_json(dataset / "test_a.json", [a("v_ALjodjboELk_4", "2", 7)])

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["activitynet-qa:v_okC18bPTils_0"]
        assert_row(
            r,
            turns=["<image>\nwhat is the man in white doing?", "dance"],
            query="what is the man in white doing?",
            video="v_okC18bPTils.mp4",
            clip=(None, None),
            frames=by_id["activitynet-qa:v_okC18bPTils_3"]["frames"],
        )
        r = by_id["activitynet-qa:v_Mzt-E6pxuUI_5"]
        assert r["conversations"][0]["value"] == "<image>\nwhat color is the child's shirt?"
        assert r["conversations"][1]["value"] == "blue"
        assert r["video"] == "trainval/Mzt-E6pxuUI.mkv"
        r = by_id["activitynet-qa:v_ALjodjboELk_2"]
        assert r["video"] == "ALjodjboELk.webm"
        assert abs(r["video_duration"] - 3.0) < 0.2

    return Expected(
        rows={
            "activitynet-qa:v_okC18bPTils_3",
            "activitynet-qa:v_okC18bPTils_0",
            "activitynet-qa:v_ALjodjboELk_2",
            "activitynet-qa:v_Mzt-E6pxuUI_5",
        },
        errors={
            "activitynet-qa:v__ucD-3rUWWE_3": "missing_video",
            "activitynet-qa:dataset/train_q.json#v_okC18bPTils_7": "bad_annotation",
            "activitynet-qa:dataset/train_q.json#v_ALjodjboELk_9": "bad_annotation",
        },
        check=check,
    )
