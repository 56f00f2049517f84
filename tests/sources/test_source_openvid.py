"""OpenVid-1M: one caption per CSV row, videos unzipped flat into ``video_folder/``."""

from __future__ import annotations

import pytest

from tests.helpers.datasets import openvid, rows_of, write_csv, write_video
from vidray import sources
from vidray.io import storage
from vidray.sources import SourceContext
from vidray.sources.base import BadSplit

SOURCE = "openvid"


def test_mp4_is_not_appended_to_names_that_have_it(harness, tmp_path):
    """Seed bug: ``'{}.mp4'.format(row['video'])`` on names that already end in
    ``.mp4`` pointed every row at ``<name>.mp4.mp4``, a file that never exists."""
    openvid.build(tmp_path)
    found = rows_of(harness.samples(tmp_path))
    video, _, _ = found[f"openvid:{openvid.CELEB}"]
    assert video == f"{openvid.CELEB}.mp4"
    assert (tmp_path / "video_folder" / video).is_file()


def test_a_name_without_extension_gets_mp4(harness, tmp_path):
    write_video(tmp_path / "video_folder" / "bare_name.mp4", seconds=2.0)
    write_csv(
        tmp_path / "data/train/OpenVid-1M.csv", openvid.HEADER, [openvid.row("bare_name", "x")]
    )
    rows, errors = harness.convert(tmp_path, tmp_path / "out")
    assert [(r["id"], r["video"]) for r in rows] == [("openvid:bare_name", "bare_name.mp4")]
    assert errors == []


def test_instructions_are_seeded(harness, tmp_path):
    """Seed bug (every caption source): ``random.sample`` without a seed, so no run
    could be reproduced. The instruction is a function of row id and seed."""
    names = [f"clip_{k:02d}.mp4" for k in range(20)]
    write_csv(
        tmp_path / "data/train/OpenVid-1M.csv",
        openvid.HEADER,
        [openvid.row(name, f"caption {k}") for k, name in enumerate(names)],
    )
    first, again = rows_of(harness.samples(tmp_path)), rows_of(harness.samples(tmp_path))
    other = rows_of(harness.samples(tmp_path, seed=1))
    assert len(first) == 20 and first == again and first.keys() == other.keys()
    assert all(turns[0] == ("human", "<image>\n" + query) for _, turns, query in first.values())
    assert {k: v[2] for k, v in first.items()} != {k: v[2] for k, v in other.items()}
    assert len({query for _, _, query in first.values()}) > 1


def test_hd_split_reads_the_hd_csv_with_the_same_ids(harness, tmp_path):
    openvid.build(tmp_path)
    source = sources.get("openvid", SourceContext.of(split="hd"))
    assert source.units(storage.location(str(tmp_path))) == ["data/train/OpenVidHD.csv"]
    hd, train = rows_of(harness.samples(tmp_path, split="hd")), rows_of(harness.samples(tmp_path))
    assert list(hd) == [f"openvid:{openvid.CELEB}"]
    assert hd[f"openvid:{openvid.CELEB}"] == train[f"openvid:{openvid.CELEB}"]


def test_unknown_split_is_refused(harness, tmp_path):
    openvid.build(tmp_path)
    with pytest.raises(BadSplit, match="hd, train"):
        harness.samples(tmp_path, split="val")


def test_ids_are_the_video_names_and_stable(harness, tmp_path):
    openvid.build(tmp_path)
    ids = harness.conversation_ids(tmp_path)
    assert ids == harness.conversation_ids(tmp_path)
    assert ids == [
        f"openvid:{openvid.CELEB}",
        f"openvid:{openvid.PANDA}",
        "openvid:pexels_8815_missing",
    ]
