"""CinePile: YouTube ids from links, answers cross-checked, videos found by name."""

import pytest

from tests.helpers.datasets.cinepile import GANGNAM, MATRIX, row
from vidray.io import storage
from vidray.sources import get
from vidray.sources.base import BadAnnotation
from vidray.sources.cinepile import youtube_id

SOURCE = "cinepile"

UNIT = "v2/train-00000-of-00003.parquet"


@pytest.mark.parametrize(
    "link",
    [
        f"https://www.youtube.com/watch?v={MATRIX}",
        f"https://www.youtube.com/watch?feature=share&v={MATRIX}&t=12s",
        f"http://youtube.com/watch?v={MATRIX}",
        f"https://youtu.be/{MATRIX}",
        f"https://youtu.be/{MATRIX}?si=abc",
        f"https://m.youtube.com/shorts/{MATRIX}",
    ],
)
def test_youtube_id_from_every_link_form(link):
    assert youtube_id({"yt_clip_link": link}) == MATRIX


@pytest.mark.parametrize(
    "link", ["https://vimeo.com/1", "https://www.youtube.com/watch?v=short", "not a link", ""]
)
def test_bad_links_are_bad_annotations(link):
    with pytest.raises(BadAnnotation):
        youtube_id({"yt_clip_link": link})


def test_mirror_video_id_wins_over_the_link():
    """(?) Mirrors add ``videoID``: preferred; an empty one falls back to the link."""
    link = f"https://youtu.be/{MATRIX}"
    assert youtube_id({"videoID": GANGNAM, "yt_clip_link": link}) == GANGNAM
    assert youtube_id({"videoID": "", "yt_clip_link": link}) == MATRIX


def test_answer_position_is_checked_against_the_answer_text():
    src = get("cinepile")
    (item,) = src.items(UNIT, "0", row("M", f"https://youtu.be/{MATRIX}", 1))
    assert item.qa[0][1] == "B. A blue pill"
    assert item.key == f"{MATRIX}:train-00000-of-00003#0"
    assert item.video == f"M_{MATRIX}"  # youtu.be/<id>: the helper's name is {movie}_{id}
    assert item.names == (MATRIX,)
    for bad in (
        row("M", f"https://youtu.be/{MATRIX}", 1, answer="A door"),
        row("M", f"https://youtu.be/{MATRIX}", 5, answer="A door"),
        {**row("M", f"https://youtu.be/{MATRIX}", 1), "answer_key_position": None},
    ):
        with pytest.raises(BadAnnotation):
            list(src.items(UNIT, "0", bad))


def test_splits(harness, fixture, tmp_path):
    root, _ = fixture
    loc = storage.location(str(root))
    assert get("cinepile").units(loc) == [f"v2/train-0000{i}-of-00003.parquet" for i in range(3)]
    rows, errors = harness.convert(root, tmp_path / "out", split="test")
    assert [r["id"] for r in rows] == [f"cinepile:{GANGNAM}:test-00000-of-00001#0"]
    assert rows[0]["conversations"][1]["value"] == "B. A blue pill"
    assert errors == []


def test_multiturn_joins_the_questions_of_a_clip(harness, fixture, tmp_path):
    root, _ = fixture
    by_id = harness.rows_by_id(root, tmp_path / "out", qa_mode="multiturn")
    turns = by_id[f"cinepile:v2/train-00000-of-00003.parquet#The Matrix_watch?v={MATRIX}.mp4"][
        "conversations"
    ]
    assert [t["value"] for t in turns][1::2] == ["A. A red pill", "C. A white rabbit"]
    assert turns[2]["value"].startswith("What does Neo follow?\n")


def test_ids_are_deterministic(harness, fixture):
    root, _ = fixture

    def ids(**ctx) -> list[str]:
        return [
            c.id if not s.error else s.id
            for s in harness.samples(root, **ctx)
            for c in (s.conversations or [s])
        ]

    first = ids()
    assert first == ids(seed=9)
    assert len(first) == len(set(first)) == 7


def test_names_tried_helper_name_then_movie_and_id_then_bare_id(harness, fixture, tmp_path):
    """A watch link: the helper's ``{movie}_watch?v={id}``, then ``{movie}_{id}``, then
    ``{id}``; the first that exists is taken, in ``yt_videos/`` or else ``videos/``."""
    src = get("cinepile")
    link = f"https://www.youtube.com/watch?v={MATRIX}"
    (item,) = src.items(UNIT, "0", row("The Matrix", link, 0))
    assert list(src.video_names(item)) == [
        f"The Matrix_watch?v={MATRIX}",
        f"The Matrix_{MATRIX}",
        MATRIX,
    ]
    root, _ = fixture
    found = {s.video for s in harness.samples(root) if not s.error}
    assert found == {f"The Matrix_watch?v={MATRIX}.mp4", f"{GANGNAM}.mp4"}
    # the same clips under the other two names, in the older default folder
    import shutil

    other = tmp_path / "in"
    shutil.copytree(root / "v2", other / "v2")
    (other / "videos").mkdir()
    shutil.copy(
        root / "yt_videos" / f"The Matrix_watch?v={MATRIX}.mp4",
        other / "videos" / f"The Matrix_{MATRIX}.webm",  # named so, whatever it holds
    )
    shutil.copy(root / "yt_videos" / f"{GANGNAM}.mp4", other / "videos" / f"{GANGNAM}.MP4")
    found = {s.video for s in harness.samples(other) if not s.error}
    assert found == {f"The Matrix_{MATRIX}.webm", f"{GANGNAM}.MP4"}
