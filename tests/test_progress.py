"""What a resumed conversion shows: its progress counts the samples committed in all,
from those an earlier run committed, and its summary the output's totals with this
run's share beside them. Real conversions on the session's Ray head: one run, then the
state a run that died before compacting a shard leaves (``reopen_shard``), resumed."""

from __future__ import annotations

import io
import re
from pathlib import Path

from tests.helpers.layouts import reopen_shard
from vidray import output as vout
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.pipeline import convert
from vidray.progress import BarProgress, LineProgress


def options(source: str, inp: Path, out: Path, per_file: int) -> ConvertOptions:
    return ConvertOptions.of(
        source=source,
        input=str(inp),
        output=str(out),
        size=48,
        samples_per_file=per_file,
        progress=False,
    )


def interrupt(out: Path, units: int) -> int:
    """Leave OUTPUT as a run that died with the last ``units`` units of its last shard
    not committed; the samples those units held."""
    records = sorted(vout.committed_records(storage.location(str(out))), key=lambda r: r.unit)
    shard = records[-1].shard
    lost = [r for r in records if r.shard == shard][-units:]
    assert len(lost) == units
    reopen_shard(out, shard, drop=[r.unit for r in lost])
    return sum(r.samples for r in lost)


def test_a_resumed_run_bar_starts_at_the_committed_count(ray_head, webvid_dir, tmp_path):
    out = tmp_path / "out"
    opts = options("webvid", webvid_dir, out, per_file=2)
    first = convert(opts)
    assert (first.samples, first.rows, first.frames, first.units) == (10, 9, 72, 6)
    lost = interrupt(out, 2)
    assert lost == 3  # the shard's units of 2 and 1 samples
    bar = BarProgress(io.StringIO())
    resumed = convert(opts, bar)
    assert (resumed.samples, resumed.units, resumed.resumed_units) == (3, 2, 4)
    c = bar.counts
    assert (c.total, c.earlier, c.this_run, c.done) == (None, 7, 3, 10)  # tar shards: open
    assert bar.bar is not None
    assert (bar.bar.initial, bar.bar.n, bar.bar.total) == (7, 10, None)
    assert bar.bar.postfix.startswith("3 this run, ")
    text = re.sub(r"\d+\.\d s \(\d+\.\d clips/s\)", "T", resumed.describe())
    assert text == (
        "10 samples -> 9 rows in all (3 this run, 4 units committed earlier), 72 frames, "
        f"1 errors (decode_error=1); this run in T; output: {out}"
    )


def test_a_resumed_run_lines_count_in_all_of_the_total(ray_head, finevideo_dir, tmp_path):
    out = tmp_path / "out"
    opts = options("finevideo", finevideo_dir, out, per_file=1)  # a unit per video
    fresh = LineProgress(io.StringIO(), every_s=3600)  # the last line only
    first = convert(opts, fresh)
    c = fresh.counts
    assert (c.total, c.earlier, c.this_run, c.done) == (6, 0, 6, 6)
    assert fresh.stream.getvalue().startswith("[vidray] 6 of 6 samples, 18 rows, 0 errors, 6 ")
    assert first.describe().startswith("6 samples -> 18 rows, ")
    assert " in all " not in first.describe() and "this run" not in first.describe()

    interrupt(out, 2)
    lines = LineProgress(io.StringIO(), every_s=3600)
    resumed = convert(opts, lines)
    c = lines.counts
    assert (c.total, c.earlier, c.this_run, c.done) == (6, 4, 2, 6)  # footers: known total
    assert re.fullmatch(
        r"\[vidray\] 6 of 6 samples \(2 this run: 6 rows, 0 errors, 2 files\), "
        r"\d+\.\d samples/s\n",
        lines.stream.getvalue(),
    )
    assert resumed.describe().startswith(
        "6 samples -> 18 rows in all (2 this run, 4 units committed earlier), "
    )
    # the counts in all are the commit's, as a rerun once complete reports them
    again = convert(opts).describe()
    assert again.startswith("already complete: 6 samples -> 18 rows, ")
    frames = resumed.manifest["counts"]["frames"]
    assert f", {frames} frames, 0 errors (none); this run in " in resumed.describe()
    assert f"18 rows, {frames} frames, 0 errors (none)" in again
