"""InternVid: ``InternVid-10M-flt.jsonl`` at the root + YouTube downloads in ``videos/``.

The downloads are named by YoutubeID with whatever extension the downloader chose
(one ``.mkv``, one in a sub-folder, an id starting with ``-``); timestamps come in the
three forms the recipe's own parser names (``HH:MM:SS.mmm``, ``MM:SS.mmm``, ``SS``),
with milliseconds that matter. A second release file repeats one clip.

Layout source: formats.md's InternVid row; not re-checked against a primary file in
issue 9.
"""

from pathlib import Path

from tests.helpers.datasets import Expected, assert_row, write_jsonl, write_video
from vidray.sources import SourceContext

A = "Xq3Ab9kLm0c"  # 6 s
B = "-bB_cCdDeE1"  # 4 s, a .mkv in a sub-folder
FLT = "InternVid-10M-flt"


def line(video: str, start: str, end: str, caption: str) -> dict:
    return {
        "YoutubeID": video,
        "Start_timestamp": start,
        "End_timestamp": end,
        "Caption": caption,
        "Aesthetic_Score": 4.21,
        "UMT_Score": 0.43,
    }


def row_id(file: str, video: str, start: float, end: float) -> str:
    return f"internvid:{file}/{video}@{start:.3f}-{end:.3f}"


def build(root: Path) -> Expected:
    write_video(root / "videos" / f"{A}.mp4", seconds=6.0)
    write_video(root / "videos" / "batch2" / f"{B}.mkv", seconds=4.0, seed=1)
    write_jsonl(
        root / f"{FLT}.jsonl",
        [
            line(A, "00:00:00.500", "00:00:02.250", "a man opens a wooden door"),
            # the same video again, the next span: the milliseconds decide the cut
            line(A, "00:00:02.250", "00:00:05.750", "a dog runs across the yard"),
            line(B, "00:01.000", "00:03.500", "hands knead dough on a table"),
            # the span runs past the 4 s video: an error row, not a clamped clip
            line(B, "3", "9", "a close-up of bread in an oven"),
            line("NotFetched1", "00:00:00.000", "00:00:01.000", "never downloaded"),
            # malformed: a timestamp that is no time
            line(A, "00:00:xx", "00:00:01.000", "broken start"),
            # malformed: the clip ends before it starts
            line(A, "00:00:04.000", "00:00:03.000", "reversed"),
        ],
        raw_lines=('{"YoutubeID": "Xq3Ab9kLm0c", "Start_timestamp": ',),
    )
    # another release lists the first clip too: its row keeps an id of its own
    write_jsonl(
        root / "InternVid-10M-DIV.jsonl",
        [line(A, "00:00:00.500", "00:00:02.250", "a person walks through a doorway")],
    )

    def check(by_id: dict[str, dict]) -> None:
        rid = row_id(FLT, A, 0.5, 2.25)
        r = by_id[rid]
        instruction = SourceContext().instruction(rid)
        assert_row(
            r,
            turns=[f"<image>\n{instruction}", "a man opens a wooden door"],
            query=instruction,
            clip=(0.5, 2.25),
        )
        assert all(0.5 - 0.1 <= t <= 2.25 for t in r["frame_timestamps"])
        r = by_id[row_id(FLT, A, 2.25, 5.75)]
        assert (r["clip_start"], r["clip_end"]) == (2.25, 5.75)
        assert r["frame_timestamps"][-1] > 5.0  # the .750 is kept
        r = by_id[row_id(FLT, B, 1.0, 3.5)]
        assert r["video"] == f"batch2/{B}.mkv"
        assert (r["clip_start"], r["clip_end"]) == (1.0, 3.5)
        assert r["conversations"][1]["value"] == "hands knead dough on a table"
        other = by_id[row_id("InternVid-10M-DIV", A, 0.5, 2.25)]
        assert other["conversations"][1]["value"] == "a person walks through a doorway"

    return Expected(
        rows={
            row_id(FLT, A, 0.5, 2.25),
            row_id(FLT, A, 2.25, 5.75),
            row_id(FLT, B, 1.0, 3.5),
            row_id("InternVid-10M-DIV", A, 0.5, 2.25),
        },
        errors={
            row_id(FLT, B, 3.0, 9.0): "bad_span",
            row_id(FLT, "NotFetched1", 0.0, 1.0): "missing_video",
            f"internvid:{FLT}.jsonl#5": "bad_annotation",
            f"internvid:{FLT}.jsonl#6": "bad_annotation",
            f"internvid:{FLT}.jsonl#7": "bad_annotation",
        },
        check=check,
    )
