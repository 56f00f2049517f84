"""CinePile: ``v2/train-0000N-of-00003.parquet`` and ``v2/test-00000-of-00001.parquet``
(columns of the tomg-group-umd/cinepile hub parquet); no videos ship with it. The
downloads lie where CinePile's helper (``download_video`` in its ``utils.py``) writes
them, ``yt_videos/{movie_name}_{yt_clip_link.split('/')[-1]}.mp4``
(``The Matrix_watch?v=<id>.mp4``), or under the bare id (its ``process_video``, and
other evaluators: ``yt_clip_link.split('=')[-1]``)."""

from pathlib import Path

import pyarrow as pa

from tests.helpers.datasets import Expected, assert_row, write_parquet, write_video

SCHEMA = pa.schema(
    [
        ("movie_name", pa.string()),
        ("year", pa.int64()),
        ("genre", pa.list_(pa.string())),
        ("yt_clip_title", pa.string()),
        ("yt_clip_link", pa.string()),
        ("movie_scene", pa.string()),
        ("subtitles", pa.string()),
        ("choices", pa.list_(pa.string())),
        ("question", pa.string()),
        ("answer_key", pa.string()),
        ("answer_key_position", pa.int64()),
        ("question_category", pa.string()),
        ("hard_split", pa.string()),
        ("visual_reliance", pa.string()),
    ]
)
MATRIX, GANGNAM, LOST = "dQw4w9WgXcQ", "9bZkp7q19f0", "aaaaaaaaaaa"
CHOICES = ["A red pill", "A blue pill", "A white rabbit", "A phone", "A door"]


def row(movie: str, link: str, position: int, answer: str | None = None, **kw) -> dict:
    r = {
        "movie_name": movie,
        "year": 1999,
        "genre": ["Action", "Sci-Fi"],
        "yt_clip_title": f"{movie} - Scene",
        "yt_clip_link": link,
        "movie_scene": "A man is offered a choice.",
        "subtitles": "You take the blue pill...",
        "choices": CHOICES,
        "question": "What does Neo take from Morpheus?",
        "answer_key": CHOICES[position] if answer is None else answer,
        "answer_key_position": position,
        "question_category": "CRD",
        "hard_split": "False",
        "visual_reliance": "True",
    }
    r.update(kw)
    return r


def build(root: Path) -> Expected:
    # downloaded by the official helper: the link's last path part, '?' and all
    write_video(root / "yt_videos" / f"The Matrix_watch?v={MATRIX}.mp4", seconds=4.0)
    # downloaded under the bare id
    write_video(root / "yt_videos" / f"{GANGNAM}.mp4", seconds=3.0, seed=1)
    watch = f"https://www.youtube.com/watch?v={MATRIX}"
    short = f"https://youtu.be/{GANGNAM}?si=Xy1"
    write_parquet(
        root / "v2" / "train-00000-of-00003.parquet",
        [
            row("The Matrix", watch, 0),
            # a second question on the same clip: decoded once
            row("The Matrix", watch, 2, question="What does Neo follow?"),
            row("Gangnam", short, 4, answer="  a DOOR "),  # case and spaces differ: same text
        ],
        SCHEMA,
    )
    write_parquet(
        root / "v2" / "train-00001-of-00003.parquet",
        [
            row("The Matrix", watch, 1, answer="A phone"),  # position and text disagree
            row("Lost", f"https://www.youtube.com/watch?v={LOST}&t=5s", 3),  # not downloaded
        ],
        SCHEMA,
    )
    write_parquet(
        root / "v2" / "train-00002-of-00003.parquet",
        [row("Vimeo", "https://vimeo.com/123456", 0), row("The Matrix", watch, 3)],
        SCHEMA,
    )
    write_parquet(root / "v2" / "test-00000-of-00001.parquet", [row("Gangnam", short, 1)], SCHEMA)

    def check(by_id: dict[str, dict]) -> None:
        r = by_id[f"cinepile:{MATRIX}:train-00000-of-00003#1"]
        assert_row(
            r,
            turns=[
                "<image>\nWhat does Neo follow?\n"
                "Please choose the right answer from the following options:\n"
                "A. A red pill\nB. A blue pill\nC. A white rabbit\nD. A phone\nE. A door",
                "C. A white rabbit",
            ],
            query="What does Neo follow?",
            video=f"The Matrix_watch?v={MATRIX}.mp4",
            frames=by_id[f"cinepile:{MATRIX}:train-00000-of-00003#0"]["frames"],
        )
        r = by_id[f"cinepile:{GANGNAM}:train-00000-of-00003#2"]
        assert r["conversations"][1]["value"] == "E. A door"
        assert r["video"] == f"{GANGNAM}.mp4"
        assert by_id[f"cinepile:{MATRIX}:train-00002-of-00003#1"]["conversations"][1]["value"] == (
            "D. A phone"
        )

    return Expected(
        rows={
            f"cinepile:{MATRIX}:train-00000-of-00003#0",
            f"cinepile:{MATRIX}:train-00000-of-00003#1",
            f"cinepile:{GANGNAM}:train-00000-of-00003#2",
            f"cinepile:{MATRIX}:train-00002-of-00003#1",
        },
        errors={
            "cinepile:v2/train-00001-of-00003.parquet#0": "bad_annotation",
            "cinepile:aaaaaaaaaaa:train-00001-of-00003#1": "missing_video",
            "cinepile:v2/train-00002-of-00003.parquet#0": "bad_annotation",
        },
        check=check,
    )
