"""Caltech101: CoOp's split decides which images are rows, with which label and name."""

from __future__ import annotations

import pytest

from tests.helpers.datasets import same_color
from vidray.sources.caltech101 import coop_classname

SOURCE = "caltech101"


def test_the_coop_split_names_the_images_their_labels_and_class_names(harness, fixture):
    """CoOp's class names are not the folders': ``Faces/`` is ``face``; the label is the
    split's, and an image in no split (``BACKGROUND_Google``) is not read at all."""
    root, _ = fixture
    convs = harness.conversations(root)
    assert sorted(convs) == [
        "caltech101:Faces/image_0001.jpg",
        "caltech101:Leopards/image_0001.jpg",
        "caltech101:Motorbikes/image_0001.jpg",
        "caltech101:accordion/image_0001.jpg",
        "caltech101:accordion/image_0009.jpg",
        "caltech101:electric_guitar/image_0001.jpg",
    ]
    face = convs["caltech101:Faces/image_0001.jpg"]
    assert (face.label, face.classname) == (1, "face")
    assert face.turns == (
        ("human", "<image>\nWhat is in this photo?"),
        ("gpt", "a photo of a face."),
    )
    assert not any("BACKGROUND_Google" in c for c in convs)


def test_prompts_use_coops_class_names_and_the_column_keeps_that_name(harness, fixture):
    """CoOp prompts ``electric_guitar`` as ``electric guitar`` (its prompt learner turns
    ``_`` into spaces) and renames folders such as ``Motorbikes`` to ``motorbike``
    where the split did not; the ``classname`` column is the name the prompt used."""
    root, _ = fixture
    convs = harness.conversations(root)
    guitar = convs["caltech101:electric_guitar/image_0001.jpg"]
    assert guitar.turns[1] == ("gpt", "a photo of a electric guitar.")
    assert (guitar.label, guitar.classname) == (3, "electric guitar")
    motorbike = convs["caltech101:Motorbikes/image_0001.jpg"]
    assert motorbike.turns[1] == ("gpt", "a photo of a motorbike.")
    assert motorbike.classname == "motorbike"
    assert [coop_classname(n) for n in ("airplanes", "Faces", "Leopards", "t_shirt ")] == [
        "airplane",
        "face",
        "leopard",
        "t shirt",
    ]


@pytest.mark.parametrize(
    ("split", "ids"),
    [
        ("val", ["caltech101:accordion/image_0002.jpg"]),
        ("test", ["caltech101:Faces/image_0002.png"]),
    ],
)
def test_each_split_reads_its_own_list(harness, fixture, split, ids):
    root, _ = fixture
    samples = harness.samples(root, split=split)
    assert [c.id for s in samples for c in s.conversations] == ids
    assert all(s.media == "image" for s in samples)


def test_rows_carry_the_image_and_no_time_axis(harness, fixture, tmp_path):
    root, _ = fixture
    rows, errors = harness.convert(root, tmp_path / "out", split="test")
    (row,) = rows
    assert not errors
    assert row["frame_timestamps"] == [] and len(row["frames"]) == 1
    assert same_color(row["frames"][0], (30, 60, 210))  # the PNG, re-encoded as JPEG
    assert row["frames"][0][:2] == b"\xff\xd8"
    assert (row["width"], row["height"]) == (32, 32)
    assert row["clip_start"] is row["clip_end"] is row["video_duration"] is row["video_fps"] is None
    assert (row["label"], row["classname"]) == (1, "face")


def test_bad_images_are_error_rows_with_their_reason(harness, fixture, tmp_path):
    _, by_id = harness.convert_expected(fixture, tmp_path / "out")
    assert (
        "Leopards/image_0001.jpg is unreadable"
        in by_id["caltech101:Leopards/image_0001.jpg"]["message"]
    )
    assert "does not exist" in by_id["caltech101:accordion/image_0009.jpg"]["message"]
    assert "label 'zero'" in by_id["caltech101:split_zhou_Caltech101.json#train/4"]["message"]
