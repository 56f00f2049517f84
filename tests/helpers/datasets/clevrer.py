"""CLEVRER: ``train.json`` / ``validation.json`` + ``video_<split>/video_XXXXX-YYYYY/``
range folders that the JSON never names.

Layout source: formats.md's CLEVRER row; not re-checked against a primary file in issue
9.
"""

from pathlib import Path

from tests.helpers.datasets import Expected, assert_row, write_json, write_videos

MC_PROMPT = "\nPlease choose the right answer from the following options:\n"


def descriptive(qid: int, question: str, answer: str) -> dict:
    return {
        "question_type": "descriptive",
        "question_subtype": "query_shape",
        "question_id": qid,
        "question": question,
        "answer": answer,
        "program": ["objects", "filter_collision", "query_shape"],
    }


def choice(qid: int, kind: str, question: str, choices: list[tuple[str, str]]) -> dict:
    return {
        "question_type": kind,
        "question_id": qid,
        "question": question,
        "program": ["events", "filter_collision"],
        "choices": [
            {"choice_id": i, "choice": text, "answer": mark, "program": ["objects"]}
            for i, (text, mark) in enumerate(choices)
        ],
    }


def scene(index: int, questions: list[dict]) -> dict:
    return {
        "scene_index": index,
        "video_filename": f"video_{index:05d}.mp4",
        "questions": questions,
    }


def build(root: Path) -> Expected:
    write_videos(
        root,
        {
            "video_train/video_00000-01000/video_00000.mp4": 3.0,
            "video_train/video_01000-02000/video_01001.mp4": 3.0,
            "video_validation/video_10000-11000/video_10000.mp4": 2.0,
        },
    )
    write_json(
        root / "train.json",
        [
            scene(
                0,
                [
                    descriptive(0, "What is the shape of the gray object?", "cube"),
                    descriptive(1, "How many metal objects are moving?", "2"),
                    # two correct choices: both must be in the answer
                    choice(
                        2,
                        "explanatory",
                        "Which of the following is responsible for the collision "
                        "between the cube and the sphere?",
                        [
                            ("The presence of the red cylinder", "correct"),
                            ("The presence of the blue sphere", "wrong"),
                            ("The collision between the cube and the cylinder", "correct"),
                            ("The rubber cube's entering the scene", "wrong"),
                        ],
                    ),
                    choice(
                        3,
                        "predictive",
                        "Which event will happen next?",
                        [
                            ("The cube collides with the cylinder", "wrong"),
                            ("The sphere and the cylinder collide", "correct"),
                        ],
                    ),
                ],
            ),
            # scene 1001: the second range folder
            scene(
                1001,
                [
                    descriptive(0, "What color is the sphere?", "yellow"),
                    # malformed: no answer and no choices; its scene-mate still converts
                    {"question_type": "descriptive", "question_id": 1, "question": "Why?"},
                ],
            ),
            # video_00002.mp4 is not in the fixture
            scene(2, [descriptive(0, "What material is the cube?", "metal")]),
            # malformed scene: no scene_index
            {
                "video_filename": "video_00003.mp4",
                "questions": [descriptive(0, "What is the color of the cube?", "red")],
            },
        ],
    )
    write_json(
        root / "validation.json",
        [
            scene(
                10000,
                [
                    descriptive(0, "Are there any moving red objects?", "no"),
                    choice(
                        1,
                        "counterfactual",
                        "Without the green cube, what will not happen?",
                        [("The sphere collides with the cylinder", "correct")],
                    ),
                ],
            )
        ],
    )

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["clevrer:0:0"]
        assert_row(
            r,
            turns=["<image>\nWhat is the shape of the gray object?", "cube"],
            query="What is the shape of the gray object?",
            clip=(None, None),
            video="video_00000-01000/video_00000.mp4",
        )
        r = by_id["clevrer:0:2"]
        assert r["conversations"][0]["value"] == (
            "<image>\nWhich of the following is responsible for the collision between the "
            "cube and the sphere?"
            + MC_PROMPT
            + "A. The presence of the red cylinder\nB. The presence of the blue sphere\n"
            "C. The collision between the cube and the cylinder\n"
            "D. The rubber cube's entering the scene"
        )
        assert r["conversations"][1]["value"] == (
            "A. The presence of the red cylinder\n"
            "C. The collision between the cube and the cylinder"
        )
        assert r["query"].startswith("Which of the following is responsible")
        assert by_id["clevrer:0:3"]["conversations"][1]["value"] == (
            "B. The sphere and the cylinder collide"
        )
        assert by_id["clevrer:1001:0"]["video"] == "video_01000-02000/video_01001.mp4"
        # the questions of one scene share its decoded frames
        assert by_id["clevrer:0:1"]["frames"] == by_id["clevrer:0:3"]["frames"]

    return Expected(
        rows={"clevrer:0:0", "clevrer:0:1", "clevrer:0:2", "clevrer:0:3", "clevrer:1001:0"},
        errors={
            "clevrer:2:0": "missing_video",
            "clevrer:train.json#1/1": "bad_annotation",
            "clevrer:train.json#3/0": "bad_annotation",
        },
        check=check,
    )
