"""mini-ImageNet: each class folder's wnid is mapped to its name by classnames.txt."""

from __future__ import annotations

import pytest

from vidray.io import storage
from vidray.sources import SourceContext, get
from vidray.sources.base import UnsupportedLayout
from vidray.sources.mini_imagenet import parse_classnames

SOURCE = "mini-imagenet"


def test_wnids_map_to_class_names_and_their_position_is_the_label():
    classes = parse_classnames(
        "n01440764 tench\n\nn01484850   great white\tshark\nn02110063 malamute_dog\n"
    )
    # a folder-style name is prompted as CoOp's prompt learner reads it: '_' as a space
    assert classes == {
        "n01440764": (0, "tench"),
        "n01484850": (1, "great white shark"),
        "n02110063": (2, "malamute dog"),
    }
    for bad, words in [
        ("n01440764\n", "no class name"),
        ("a x\na y\n", "listed twice"),
        ("\n", "no class"),
    ]:
        with pytest.raises(UnsupportedLayout, match=words):
            parse_classnames(bad)


def test_each_class_folder_of_the_split_is_a_shard(fixture):
    root, _ = fixture
    loc = storage.location(str(root))
    assert get(SOURCE).units(loc) == ["train/n01443537", "train/n01484850", "train/n09999999"]
    src = get(SOURCE, SourceContext.of(split="val"))
    assert src.units(loc) == ["val/n01491361"]


@pytest.mark.parametrize(
    ("split", "row"),
    [
        ("val", ("mini-imagenet:val/n01491361/n0149136100000001.jpg", 3, "tiger shark")),
        ("test", ("mini-imagenet:test/n01440764/n0144076400000001.png", 0, "tench")),
    ],
)
def test_splits_and_labels_do_not_depend_on_the_split_classes(harness, fixture, split, row):
    root, _ = fixture
    (conv,) = [c for s in harness.samples(root, split=split) for c in s.conversations]
    assert (conv.id, conv.label, conv.classname) == row


def test_a_folder_missing_from_classnames_is_an_error_row_not_dropped(harness, fixture, tmp_path):
    root, expected = fixture
    rows, errors = harness.convert(root, tmp_path / "out")
    assert {r["id"] for r in rows} == expected.rows
    (error,) = errors
    assert (
        error["reason"] == "bad_annotation"
        and "'n09999999' is not in classnames.txt" in error["message"]
    )


def test_no_classnames_txt_refuses_the_run(tmp_path):
    from vidray.config import ConvertOptions
    from vidray.plan import ConvertError, prepare

    (tmp_path / "in" / "train" / "n01440764").mkdir(parents=True)
    with pytest.raises(ConvertError, match=r"no classnames\.txt at"):
        prepare(
            ConvertOptions.of(
                source=SOURCE, input=str(tmp_path / "in"), output=str(tmp_path / "out")
            )
        )
    assert not (tmp_path / "out").exists()
