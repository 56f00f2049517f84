"""MovieChat-1K (train): ``jsons/<n>.json``, one object per video, + ``raw_videos/``;
some JSONs have no video.

Layout source: formats.md's MovieChat-1K row; matched the published layout in issue 9's
survey.
"""

from pathlib import Path

from tests.helpers.datasets import (
    Expected,
    assert_row,
    turn_values,
    write_bytes,
    write_json,
    write_video,
)
from vidray import prompts

CAPTION = "A man walks into a diner, orders coffee and argues with the waitress."


def doc(n: int, breakpoints: list[dict]) -> dict:
    return {
        "caption": CAPTION,
        "info": {
            "video_path": f"{n}.mp4",
            "num_frame": 40,
            "fps": 10,
            "h": 64,
            "w": 96,
            "class": "drama",
        },
        "global": [
            {"question": "Where does the story take place?", "answer": "In a diner."},
            {"question": "How many people talk?", "answer": "Two."},
        ],
        "breakpoint": breakpoints,
    }


def build(root: Path) -> Expected:
    write_video(root / "raw_videos" / "1.mp4", seconds=4.0)  # frames 0-39 at 10 fps
    write_json(
        root / "jsons" / "1.json",
        doc(
            1,
            [
                {"time": 20, "question": "What is the man doing now?", "answer": "Ordering."},
                # same moment: same span, decoded once
                {"time": 20, "question": "Who is he talking to?", "answer": "The waitress."},
                {"time": 35, "question": "Is he still sitting?", "answer": "No."},
                # frame 80 is after the 40-frame video
                {"time": 80, "question": "Does he leave?", "answer": "Yes."},
                # no time
                {"question": "What does he drink?", "answer": "Coffee."},
            ],
        ),
    )
    # no raw_videos/2.mp4: every question of it is a missing_video row
    write_json(
        root / "jsons" / "2.json",
        doc(2, [{"time": 10, "question": "What is on the table?", "answer": "A cup."}]),
    )
    write_bytes(root / "jsons" / "3.json", b'{"caption": "cut off')
    no_path = doc(4, [])
    del no_path["info"]["video_path"]
    write_json(root / "jsons" / "4.json", no_path)

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["moviechat:1:global:0"]
        assert_row(
            r,
            turns=["<image>\nWhere does the story take place?", "In a diner."],
            query="Where does the story take place?",
            clip=(None, None),
            video="1.mp4",
        )
        r = by_id["moviechat:1:breakpoint:0"]
        assert_row(
            r,
            turns=["<image>\nWhat is the man doing now?", "Ordering."],
            clip=(0.0, 2.0),
            frames=by_id["moviechat:1:breakpoint:1"]["frames"],
        )
        assert (by_id["moviechat:1:breakpoint:2"]["clip_end"]) == 3.5
        r = by_id["moviechat:1:caption"]
        instruction = prompts.draw(prompts.BUILTIN_PROMPTS, "moviechat:1:caption", 0)
        assert turn_values(r) == [f"<image>\n{instruction}", CAPTION]
        assert r["query"] == instruction
        assert r["frames"] == by_id["moviechat:1:global:1"]["frames"]

    return Expected(
        rows={
            "moviechat:1:global:0",
            "moviechat:1:global:1",
            "moviechat:1:breakpoint:0",
            "moviechat:1:breakpoint:1",
            "moviechat:1:breakpoint:2",
            "moviechat:1:caption",
        },
        errors={
            "moviechat:1:breakpoint:3": "bad_span",
            "moviechat:jsons/1.json#breakpoint:4": "bad_annotation",
            "moviechat:2:global:0": "missing_video",
            "moviechat:2:global:1": "missing_video",
            "moviechat:2:caption": "missing_video",
            "moviechat:2:breakpoint:0": "missing_video",
            "moviechat:jsons/3.json": "bad_annotation",
            "moviechat:jsons/4.json": "bad_annotation",
        },
        check=check,
    )
