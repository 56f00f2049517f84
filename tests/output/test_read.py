"""The one reader of OUTPUT (vidray.output.read): both layouts give the same rows,
schema version 1 files read, and what is not OUTPUT is one OutputError. OUTPUTs are
written without Ray, through the unit writer."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.output import write_unit
from vidray import output as vout
from vidray.io import storage
from vidray.output import read

FRAMES = [b"\xff\xd8one", b"\xff\xd8two"]


def rows_of(n: int) -> list[dict]:
    """``n`` rows, two questions per clip."""
    return [
        dict(id=f"r{k}", source="src", video=f"v{k // 2}.mp4", clip_start=None, clip_end=None,
             conversations=[{"from": "human", "value": f"q{k}"}], query=None,
             frames=FRAMES, frame_timestamps=[0.0, 1.0], width=4, height=4,
             video_duration=2.0, video_fps=1.0, label=None, classname=None)
        for k in range(n)
    ]  # fmt: skip


def make(root: Path, layout: str, *, finish: bool = True) -> storage.Location:
    out = storage.location(str(root))
    data = rows_of(6)
    results = [write_unit(out, f"u-{k}", 3, data[3 * k : 3 * k + 3], [], layout=layout)
               for k in range(2)]  # fmt: skip
    if finish:
        vout.commit(out, results, {"source": "src", "layout": layout})
    return out


@pytest.mark.parametrize("layout", ["rows", "clips"])
def test_every_reader_gives_the_rows_written_one_per_question(tmp_path, layout):
    out = make(tmp_path / layout, layout)
    files, manifest = read.data_files(out)
    assert manifest is not None and manifest["layout"] == layout and len(files) == 2
    expected = rows_of(6)

    def by_id(rows: list[dict]) -> list[dict]:
        return sorted(rows, key=lambda r: r["id"])

    assert by_id(list(read.iter_rows(out, files))) == expected
    assert by_id(vout.read_output(out.uri).to_pylist()) == expected
    with read.open_data_file(out, files[0]) as data:
        by_group = [r for g in range(data.num_row_groups) for r in data.row_group(g)]
    assert by_group == [r for r in expected if r in by_group] and by_group
    stored = vout.read_output(out.uri, flat=False)
    assert stored.num_rows == (6 if layout == "rows" else 4)  # a clip cut between units


def test_retry_rows_are_typed(tmp_path):
    out = make(tmp_path / "o", "clips")
    kept = read.read_unit_rows(out, "u-1", "")
    assert [r.id for r in kept] == ["r3", "r4", "r5"]
    assert all(isinstance(r, vout.OutputRow) for r in kept)
    assert read.read_unit_rows(out, "u-9", "") == []


def test_a_schema_version_1_file_reads_with_label_null(tmp_path):
    out = make(tmp_path / "o", "rows")
    files, _ = read.data_files(out)
    path = tmp_path / "o" / files[0]
    pq.write_table(pq.read_table(path).drop_columns(["label", "classname"]), path)
    rows = list(read.iter_rows(out, files))
    assert sorted(r["id"] for r in rows) == [f"r{k}" for k in range(6)]
    assert all(r["label"] is None and r["classname"] is None for r in rows)


def test_not_an_output_and_not_parquet_are_one_error(tmp_path, capsys):
    plain = tmp_path / "plain"
    (plain / "data").mkdir(parents=True)
    with pytest.raises(vout.OutputError, match="is not a vidray output"):
        read.data_files(storage.location(str(plain)))
    out = make(tmp_path / "o", "rows")
    files, _ = read.data_files(out)
    (tmp_path / "o" / files[0]).write_bytes(b"PAR1 garbage")
    with pytest.raises(vout.OutputError, match="not a Parquet file"):
        list(read.iter_rows(out, files))


def test_a_running_job_is_read_as_far_as_committed_with_a_warning(tmp_path, capsys):
    out = make(tmp_path / "o", "rows", finish=False)
    files, manifest = read.data_files(out, warn=True)
    assert manifest is None and len(files) == 2
    assert "has no _SUCCESS" in capsys.readouterr().err
