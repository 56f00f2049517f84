"""Perception Test: the validation parquet only, ``answer_id`` parsed as an index."""

import pytest

from tests.helpers.datasets.perceptiontest import VAL, row
from vidray.io import storage
from vidray.sources import SourceContext, get
from vidray.sources.base import BadAnnotation, BadSplit

SOURCE = "perceptiontest"


def test_the_test_parquet_is_never_read(fixture):
    """Seed bug: the recipe read ``test-00000-of-00001.parquet``, whose answers are
    withheld. The default split is validation and reads only its parquet; asking for
    the test split is an error, not a silent read."""
    root, _ = fixture
    loc = storage.location(str(root))
    assert get("perceptiontest").units(loc) == [VAL]
    with pytest.raises(BadSplit, match="validation"):
        get("perceptiontest", SourceContext.of(split="test")).units(loc)


def test_string_answer_id_is_an_index():
    """Seed bug: ``options[row['answer_id']]`` indexes with the string "2" (a TypeError
    on a list, garbage on a dict). "2" must select the third option, letter C."""
    src = get("perceptiontest")
    (item,) = src.items(VAL, "0", row("video_1", "0", "2"))
    assert item.qa[0][1] == "C. a towel"
    (item,) = src.items(VAL, "0", row("video_1", "0", " 0 "))
    assert item.qa[0][1] == "A. a cup"
    for bad in ("", "two", "-1", "3", "²"):
        with pytest.raises(BadAnnotation):
            list(src.items(VAL, "0", row("video_1", "0", bad)))


def test_multiturn_joins_the_questions_of_a_video(harness, fixture, tmp_path):
    root, _ = fixture
    by_id = harness.rows_by_id(root, tmp_path / "out", qa_mode="multiturn")
    assert set(by_id) == {
        "perceptiontest:mc_question_val/validation-00000-of-00001.parquet#video_10909.mp4",
        "perceptiontest:video_7000:0",
    }
    turns = by_id[
        "perceptiontest:mc_question_val/validation-00000-of-00001.parquet#video_10909.mp4"
    ]["conversations"]
    assert [t["value"] for t in turns][1::2] == ["C. a towel", "A. a cup"]
    assert turns[2]["value"].startswith("How many cups are on the table?\n")


def test_ids_are_deterministic(fixture):
    root, _ = fixture
    loc = storage.location(str(root))

    def ids() -> list[str]:
        src = get("perceptiontest")
        return [c.id for s in src.samples(loc, VAL) for c in s.conversations] + [
            s.id for s in src.samples(loc, VAL) if s.error and not s.conversations
        ]

    first = ids()
    assert first == ids()
    assert len(first) == len(set(first)) == 5
    assert "perceptiontest:video_7000:5" not in first


def test_the_json_release_is_refused_with_the_supported_form(tmp_path):
    """google-deepmind's JSON release: a clear one-line refusal naming the parquet,
    raised before any work, not an empty run."""
    from tests.helpers.datasets import write_json, write_video
    from vidray.config import ConvertOptions
    from vidray.pipeline import ConvertError, convert

    write_json(
        tmp_path / "mc_question_valid.json",
        {"video_10909": {"metadata": {"num_frames": 40}, "mc_question": []}},
    )
    write_video(tmp_path / "videos" / "video_10909.mp4", seconds=1.0)
    with pytest.raises(ConvertError) as e:
        convert(
            ConvertOptions.of(
                source="perceptiontest", input=str(tmp_path), output=str(tmp_path / "o")
            )
        )
    message = str(e.value)
    assert "\n" not in message
    assert "mc_question_val/validation-*.parquet" in message and "mc_question_valid.json" in message
