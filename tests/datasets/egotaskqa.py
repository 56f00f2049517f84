"""EgoTaskQA: ``qa/{direct,indirect}/<split>_qas.json`` + ``qa_videos/``, where a clip is
named after its interval, ``|`` included (``qa_videos/12_1|P1|0|30.mp4``), and a full
video after the interval's first field (``qa_videos/7_2.mp4``)."""

from pathlib import Path

from tests.datasets import Expected, write_json, write_video


def qa(qid: int, question: str, answer: str, interval: str, kind: str = "descriptive") -> dict:
    return {
        "question_id": qid,
        "question": question,
        "answer": answer,
        "interval": interval,
        "type": kind,
        "category": "object",
        "video_id": interval.split("|")[0],
    }


def build(root: Path) -> Expected:
    videos = root / "qa_videos"
    # a cut clip, named after its interval
    write_video(videos / "12_1|P1|0|30.mp4", seconds=3.0)
    # a full video (5 s at 10 fps: frames 0-49), for intervals without a clip
    write_video(videos / "7_2.mp4", seconds=5.0, seed=1)
    write_json(
        root / "qa/direct/train_qas.json",
        [
            qa(1, "What is the person holding?", "knife", "12_1|P1|0|30"),
            # same clip: decoded once with #1
            qa(2, "Is the fridge open after the action?", "yes", "12_1|P1|0|30"),
            # no clip: the full video, frames 10-40 (1-4 s)
            qa(3, "What did the person cut?", "tomato", "7_2|P1|10|40"),
            # frames 20-90 run past the 50-frame video
            qa(4, "Where is the cup?", "table", "7_2|P1|20|90"),
            # neither the clip nor 3_3.mp4 exists
            qa(5, "What is open?", "drawer", "3_3|P1|0|20"),
            # malformed interval: no end frame
            qa(6, "Is the door closed?", "no", "12_1|P1|0"),
        ],
    )
    write_json(
        root / "qa/indirect/train_qas.json",
        [
            # same question_id as a direct question: the key keeps them apart
            qa(1, "What will the person do after cutting?", "wash knife", "7_2|P1|10|40", "intent"),
            qa(2, "Why did the person open the fridge?", "get milk", "12_1|P1|0|30", "intent"),
        ],
    )
    write_json(
        root / "qa/direct/val_qas.json",
        [qa(100, "What did the person pick up?", "cup", "7_2|P1|0|20")],
    )
    write_json(
        root / "qa/indirect/val_qas.json",
        [qa(100, "What is the goal of picking the cup?", "drink", "7_2|P1|0|20", "intent")],
    )

    def check(rows: list[dict]) -> None:
        by_id = {r["id"]: r for r in rows}
        r = by_id["egotaskqa:direct/train:1"]
        assert [t["value"] for t in r["conversations"]] == [
            "<image>\nWhat is the person holding?",
            "knife",
        ]
        assert r["query"] == "What is the person holding?"
        assert r["video"] == "12_1|P1|0|30.mp4"
        assert (r["clip_start"], r["clip_end"]) == (None, None)
        assert r["frames"] == by_id["egotaskqa:direct/train:2"]["frames"]
        r = by_id["egotaskqa:direct/train:3"]
        assert r["video"] == "7_2.mp4"
        assert (r["clip_start"], r["clip_end"]) == (1.0, 4.0)
        assert r["conversations"][1]["value"] == "tomato"
        r = by_id["egotaskqa:indirect/train:1"]
        assert (r["clip_start"], r["clip_end"]) == (1.0, 4.0)
        assert r["conversations"][1]["value"] == "wash knife"

    return Expected(
        rows={
            "egotaskqa:direct/train:1",
            "egotaskqa:direct/train:2",
            "egotaskqa:direct/train:3",
            "egotaskqa:indirect/train:1",
            "egotaskqa:indirect/train:2",
        },
        errors={
            "egotaskqa:direct/train:4": "bad_span",
            "egotaskqa:direct/train:5": "missing_video",
            "egotaskqa:qa/direct/train_qas.json#5": "bad_annotation",
        },
        check=check,
    )
