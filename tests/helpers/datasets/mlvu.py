"""MLVU (dev): ``MLVU/json/<task>.json`` per task + ``MLVU/video/<task>/<video>``.

Layout source: formats.md's MLVU row; matched the published layout in issue 9's survey.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.datasets import Expected, assert_row, write_json, write_video

PLOT_OPTIONS = ["Red", "Blue", "Black", "White"]


def mc(video: str, question: str, candidates: list, answer: str, qtype: str) -> dict:
    return {
        "video": video,
        "duration": 4.0,
        "question": question,
        "candidates": candidates,
        "answer": answer,
        "question_type": qtype,
    }


def build(root: Path) -> Expected:
    videos = root / "MLVU" / "video"
    write_video(videos / "1_plotQA" / "movie101_66.mp4", seconds=4.0)
    # the same file name in another task folder is another video
    write_video(videos / "8_sub_scene" / "movie101_66.mp4", seconds=3.0, seed=1)
    write_video(videos / "2_needle" / "needle_32.mp4", seconds=3.0, seed=2)
    write_video(videos / "9_summary" / "surveil_5.mp4", seconds=5.0, seed=3)
    json_dir = root / "MLVU" / "json"
    write_json(
        json_dir / "1_plotQA.json",
        [
            mc(
                "movie101_66.mp4",
                "What color is the main male character's coat?",
                PLOT_OPTIONS,
                "Black",
                "plotQA",
            ),
            # a second question on the same video: decoded once
            mc("movie101_66.mp4", "Where does the story begin?", ["Bar", "Park"], "Park", "plotQA"),
            # the answer is none of the candidates
            mc("movie101_66.mp4", "Who drives the car?", ["A", "B"], "C", "plotQA"),
        ],
    )
    write_json(
        json_dir / "2_needle.json",
        [
            mc(
                "needle_32.mp4",
                "What does the hand hold?",
                ["A cup", "A pen", "A key"],
                "A key",
                "findNeedle",
            ),
            # a multiple-choice task record without candidates
            {"video": "needle_32.mp4", "question": "What?", "answer": "x", "duration": 3},
        ],
    )
    write_json(
        json_dir / "8_sub_scene.json",
        [
            {
                "video": "movie101_66.mp4",
                "duration": 3.0,
                "question": "Describe the scene where the man opens the door.",
                "answer": "The man opens the door and walks out.",
                "question_type": "subPlot",
                "scoring_points": ["opens the door", "walks out"],
            }
        ],
    )
    write_json(
        json_dir / "9_summary.json",
        [
            {
                "video": "surveil_5.mp4",
                "duration": 5.0,
                "question": "Please summarize this video, including its main content.",
                "answer": "A car enters the parking lot and stops.",
                "question_type": "summary",
            },
            {
                "video": "surveil_404.mp4",
                "duration": 9.0,
                "question": "Please summarize this video, including its main content.",
                "answer": "Nothing happens.",
                "question_type": "summary",
            },
        ],
    )

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["mlvu:1_plotQA#0"]
        assert_row(
            r,
            turns=[
                "<image>\nWhat color is the main male character's coat?\n"
                "Please choose the right answer from the following options:\n"
                "A. Red\nB. Blue\nC. Black\nD. White",
                "C. Black",
            ],
            query="What color is the main male character's coat?",
            video="1_plotQA/movie101_66.mp4",
            frames=by_id["mlvu:1_plotQA#1"]["frames"],
        )
        assert by_id["mlvu:2_needle#0"]["conversations"][1]["value"] == "C. A key"
        r = by_id["mlvu:9_summary#0"]
        assert_row(
            r,
            turns=[
                "<image>\nPlease summarize this video, including its main content.",
                "A car enters the parking lot and stops.",
            ],
        )
        r = by_id["mlvu:8_sub_scene#0"]
        assert r["video"] == "8_sub_scene/movie101_66.mp4"
        assert r["conversations"][1]["value"] == "The man opens the door and walks out."
        assert abs(r["video_duration"] - 3.0) < 0.2

    return Expected(
        rows={
            "mlvu:1_plotQA#0",
            "mlvu:1_plotQA#1",
            "mlvu:2_needle#0",
            "mlvu:8_sub_scene#0",
            "mlvu:9_summary#0",
        },
        errors={
            "mlvu:MLVU/json/1_plotQA.json#2": "bad_annotation",
            "mlvu:MLVU/json/2_needle.json#1": "bad_annotation",
            "mlvu:9_summary#1": "missing_video",
        },
        check=check,
    )
