"""Flickr5k: the published ``.json.json`` suffix is read (and a renamed ``.json``)."""

from __future__ import annotations

from vidray import output as vout
from vidray.io import storage
from vidray.sources import SourceContext, get

SOURCE = "flickr5k"
IMAGES = "flickr5k-images"


def test_the_double_suffix_files_are_the_splits(harness, fixture, tmp_path):
    root, expected = fixture
    loc = storage.location(str(root))
    assert get(SOURCE).units(loc) == ["flickr5k_train.json.json"]
    assert get(SOURCE, SourceContext.of(split="val")).units(loc) == ["flickr5k_val.json.json"]
    assert get(SOURCE, SourceContext.of(split="test")).units(loc) == ["flickr5k_test.json"]
    rows, errors = harness.convert(root, tmp_path / "out")
    assert {r["id"] for r in rows} == expected.rows
    # the unit is named after the file without its last suffix, as every shard is
    assert sorted(p.stem for p in (tmp_path / "out" / vout.UNITS_DIR).iterdir()) == [
        "flickr5k_train.json-00000"
    ]
    (error,) = errors
    assert (
        error["reason"] == "decode_error" and f"{IMAGES}/1003.jpg is unreadable" in error["message"]
    )


def test_a_renamed_split_file_is_read_when_the_published_one_is_absent(harness, fixture, tmp_path):
    root, _ = fixture
    rows, _ = harness.convert(root, tmp_path / "out", split="test")
    assert [(r["id"], r["conversations"][1]["value"]) for r in rows] == [
        (f"flickr5k:{IMAGES}/1002.png#0", "Green.")
    ]


def test_a_captions_own_media_token_is_removed_and_one_that_is_only_a_token_is_refused(
    tmp_path,
):
    """The gpt turn never carries an ``<image>``: the row's one token is vidray's, at the
    start of the human turn. A caption with no words besides its token is bad input."""
    import json

    from vidray.schema import Reason

    captions = [
        {"image": f"{IMAGES}/1.jpg", "caption": "A dog <image> on the\n beach."},
        {"image": f"{IMAGES}/2.jpg", "caption": " <image> "},
    ]
    (tmp_path / "flickr5k_train.json.json").write_text(json.dumps(captions))
    loc = storage.location(str(tmp_path))
    good, bad = get(SOURCE).samples(loc, "flickr5k_train.json.json")
    ((human, question), (gpt, answer)) = good.conversations[0].turns
    assert (human, gpt, answer) == ("human", "gpt", "A dog on the beach.")
    assert question.startswith("<image>\n") and question.count("<image>") == 1
    assert bad.error is not None and bad.error[0] is Reason.BAD_ANNOTATION
    assert "caption 0 is empty" in bad.error[1]
