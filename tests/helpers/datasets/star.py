"""STAR: ``STAR_train.json`` / ``STAR_val.json`` + Charades ``videos/<video_id>.mp4``.

Layout source: formats.md's STAR row; not re-checked against a primary file in issue 9.
"""

from pathlib import Path

from tests.helpers.datasets import Expected, write_json, write_videos


def record(qid: str, video: str, start: float, end: float, answer: str) -> dict:
    return {
        "question_id": qid,
        "question": "Which object was taken by the person?",
        "video_id": video,
        "start": start,
        "end": end,
        "answer": answer,
        "question_type": "Interaction",
        "choices": [
            {"choice_id": 0, "choice": "The cup."},
            {"choice_id": 1, "choice": "The blanket."},
            {"choice_id": 2, "choice": "The book."},
            {"choice_id": 3, "choice": "The phone."},
        ],
        "situations": {},
    }


def build(root: Path) -> Expected:
    write_videos(root / "videos", {"6H78U.mp4": 6.0, "ZS9XR.mp4": 4.0})
    write_json(
        root / "STAR_train.json",
        [
            record("Interaction_T1_13", "6H78U", 1.2, 3.8, "The book."),
            # a second question on the same span: decoded once
            {**record("Interaction_T1_14", "6H78U", 1.2, 3.8, "The cup.")},
            record("Sequence_T2_7", "ZS9XR", 0.5, 2.5, "The phone."),
            # the span runs past the 4 s video: an error row, not a clamped clip
            record("Sequence_T2_8", "ZS9XR", 3.0, 9.0, "The phone."),
            record("Interaction_T1_99", "NOVID", 0.0, 1.0, "The cup."),
            # the answer is no option's text
            record("Interaction_T1_15", "6H78U", 0.0, 1.0, "The sofa."),
        ],
    )
    write_json(root / "STAR_val.json", [record("Interaction_T1_500", "ZS9XR", 0, 1, "The cup.")])

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["star:Interaction_T1_13"]
        assert r["conversations"][1]["value"] == "C. The book."
        assert (
            "A. The cup.\nB. The blanket.\nC. The book.\nD. The phone."
            in (r["conversations"][0]["value"])
        )
        assert r["query"] == "Which object was taken by the person?"
        assert (r["clip_start"], r["clip_end"]) == (1.2, 3.8)
        assert all(1.2 - 0.1 <= t <= 3.8 for t in r["frame_timestamps"])
        assert r["frames"] == by_id["star:Interaction_T1_14"]["frames"]

    return Expected(
        rows={"star:Interaction_T1_13", "star:Interaction_T1_14", "star:Sequence_T2_7"},
        errors={
            "star:Sequence_T2_8": "bad_span",
            "star:Interaction_T1_99": "missing_video",
            "star:STAR_train.json#5": "bad_annotation",
        },
        check=check,
    )
