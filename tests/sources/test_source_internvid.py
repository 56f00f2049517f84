"""InternVid: clip spans of user-downloaded YouTube videos, one caption per line."""

from __future__ import annotations

import pytest

from tests.helpers import datasets
from tests.helpers.datasets import internvid, write_jsonl, write_video
from vidray import sources
from vidray.io import storage
from vidray.sources.base import BadAnnotation, Sample
from vidray.sources.internvid import timestamp

SOURCE = "internvid"


def rows_of(found: list[Sample]) -> dict[str, tuple]:
    return datasets.rows_of(found, clip=True)


def test_milliseconds_are_kept(harness, tmp_path):
    """Seed bug: ``start_time.split('.')[0]`` dropped the milliseconds, so 2.250-5.750
    became 2-5."""
    internvid.build(tmp_path)
    found = rows_of(harness.samples(tmp_path))
    _, clip, _, _ = found[internvid.row_id(internvid.FLT, internvid.A, 2.25, 5.75)]
    assert clip == (2.25, 5.75)
    assert timestamp("00:00:02.250", "t") == 2.25
    assert timestamp("01:02:03.456", "t") == pytest.approx(3723.456)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:01:02.345", 62.345), ("01:02.5", 62.5), ("62.345", 62.345), ("7", 7.0), (7.5, 7.5)],
)
def test_end_timestamps_parse_to_seconds(text, seconds):
    """Seed bug: ``end_time.split('.')`` handed a list to the time parser; every form
    the recipe's parser names (HH:MM:SS, MM:SS, SS) must give a number of seconds."""
    assert timestamp(text, "End_timestamp") == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["00:00:xx", "", "1:2:3:4", "-1", None, True, "nan"])
def test_bad_timestamps_are_bad_annotations(bad):
    with pytest.raises(BadAnnotation):
        timestamp(bad, "Start_timestamp")


def test_videos_are_matched_by_youtube_id_not_line_index(harness, tmp_path):
    """Seed bug: the line index (an int) was looked up among the file names, so no
    line matched (and a file named after an index would have matched the wrong line)."""
    write_video(tmp_path / "videos" / "0.mp4", seconds=2.0)  # named like line 0's index
    write_video(tmp_path / "videos" / "yt_ID_one.webm", seconds=2.0, seed=1)
    write_jsonl(
        tmp_path / "InternVid-10M-flt.jsonl",
        [
            internvid.line("yt_ID_one", "00:00:00.000", "00:00:01.500", "first"),
            internvid.line("yt_ID_two", "00:00:00.000", "00:00:01.500", "second"),
        ],
    )
    found = harness.samples(tmp_path)
    assert [(s.video, s.error and s.error[0]) for s in found] == [
        ("yt_ID_one.webm", None),
        ("yt_ID_two", "missing_video"),
    ]


def test_instructions_are_seeded(harness, tmp_path):
    """Seed bug (every caption source): ``random.sample`` without a seed, so no run
    could be reproduced. The instruction is a function of row id and seed."""
    write_video(tmp_path / "videos" / "vid.mp4", seconds=2.0)
    spans = [(f"00:00:{k:02d}.000", f"00:00:{k + 1:02d}.500") for k in range(20)]
    write_jsonl(
        tmp_path / "InternVid-10M-flt.jsonl",
        [internvid.line("vid", start, end, "caption") for start, end in spans],
    )
    first, again = rows_of(harness.samples(tmp_path)), rows_of(harness.samples(tmp_path))
    assert len(first) == 20
    other = rows_of(harness.samples(tmp_path, seed=1))
    assert first == again
    assert first.keys() == other.keys()
    queries = {rid: row[3] for rid, row in first.items()}
    assert all(row[2][0] == ("human", "<image>\n" + row[3]) for row in first.values())
    assert queries != {rid: row[3] for rid, row in other.items()}
    assert len(set(queries.values())) > 1


def test_ids_are_stable_and_unique_across_release_files(harness, tmp_path):
    internvid.build(tmp_path)
    first = harness.conversation_ids(tmp_path)
    assert first == harness.conversation_ids(tmp_path)
    assert len(first) == len(set(first))
    assert internvid.row_id("InternVid-10M-DIV", internvid.A, 0.5, 2.25) in first
    assert internvid.row_id(internvid.FLT, internvid.A, 0.5, 2.25) in first


def test_only_jsonl_files_at_the_root_are_read(tmp_path):
    internvid.build(tmp_path)
    write_jsonl(tmp_path / "videos" / "notes.jsonl", [{"note": "not an annotation"}])
    source = sources.get("internvid")
    assert source.units(storage.location(str(tmp_path))) == [
        "InternVid-10M-DIV.jsonl",
        "InternVid-10M-flt.jsonl",
    ]


def test_each_line_is_its_own_sample_in_order(harness, tmp_path):
    """Spans of one video are different clips: never merged, even in multiturn mode."""
    internvid.build(tmp_path)
    found = harness.samples(tmp_path, qa_mode="multiturn")
    spans = [s.clip for s in found if s.error is None and s.video == f"{internvid.A}.mp4"]
    assert spans == [(0.5, 2.25), (0.5, 2.25), (2.25, 5.75)]
    assert all(len(s.conversations) == 1 for s in found if s.error is None)
