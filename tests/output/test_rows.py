"""Typed rows: their fields are the schemas' columns, they round-trip through Arrow
(both layouts), and the reason codes are the enum the docs list."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pyarrow as pa
import pytest

from vidray.output import rows
from vidray.output.names import OutputError
from vidray.output.rows import ClipRow, ErrorRow, OutputRow, Question
from vidray.schema import CLIP_SCHEMA, ERROR_SCHEMA, OUTPUT_SCHEMA, REASONS, Reason, reason_table

DOC = Path(__file__).parents[2] / "docs" / "output-schema.md"


def row(rid: str, frames: list[bytes], **kw: object) -> OutputRow:
    base = dict(id=rid, source="s", video="v.mp4", clip_start=1.0, clip_end=2.5,
                conversations=[{"from": "human", "value": f"q {rid}"}], query=None,
                frames=frames, frame_timestamps=[1.0, 2.0], width=8, height=6,
                video_duration=9.0, video_fps=25.0, label=None, classname=None)  # fmt: skip
    return OutputRow(**{**base, **kw})


def test_fields_are_the_schema_columns():
    assert [f.name for f in fields(OutputRow)] == OUTPUT_SCHEMA.names
    assert [f.name for f in fields(ClipRow)] == CLIP_SCHEMA.names
    assert [f.name for f in fields(ErrorRow)] == ERROR_SCHEMA.names
    assert [f.name for f in fields(Question)] == [
        f.name for f in CLIP_SCHEMA.field("questions").type.value_type
    ]


def test_rows_round_trip_through_arrow():
    frames = [b"\xff\xd8a", b"\xff\xd8b"]
    written = [row("a", frames), row("b", frames, label=3, classname="cat")]
    table = rows.to_table(written)
    assert table.schema.equals(OUTPUT_SCHEMA)
    assert rows.from_table(table, "t") == written


def test_clip_rows_round_trip_to_the_same_question_rows():
    frames = [b"\xff\xd8a"]
    a, b = row("a", frames), row("b", frames)
    clip = ClipRow.of(a)
    clip.questions.append(rows.question_of(b))
    assert clip.clip_id == "s:v.mp4@1-2.5"
    table = rows.to_table([clip])
    assert table.schema.equals(CLIP_SCHEMA) and table.num_rows == 1
    assert rows.from_table(table, "t") == [a, b]
    assert rows.flatten_clips(table).to_pylist() == [a.to_dict(), b.to_dict()]


def test_error_rows_write_the_reason_code():
    table = rows.to_table([ErrorRow("x", "s", None, Reason.DECODE_CRASH, "died")])
    assert table.schema.equals(ERROR_SCHEMA)
    assert table.to_pylist() == [
        {"id": "x", "source": "s", "video": None, "reason": "decode_crash", "message": "died"}
    ]


def test_schema_version_1_reads_with_label_and_classname_null():
    v2 = rows.to_table([row("a", [b"\xff\xd8"], label=1, classname="c")])
    v1 = v2.drop_columns(["label", "classname"])
    (read,) = rows.from_table(v1, "old.parquet")
    assert read == row("a", [b"\xff\xd8"])


def test_a_missing_or_mistyped_column_is_an_output_error():
    table = rows.to_table([row("a", [b"\xff\xd8"])])
    with pytest.raises(OutputError, match=r"f.parquet: not a vidray data file \(column 'width'"):
        rows.conform(table.drop_columns(["width"]), "f.parquet")
    bad = table.set_column(9, "width", pa.array(["8"]))
    with pytest.raises(OutputError, match="column 'width' missing or not int32"):
        rows.conform(bad, "f.parquet")


def test_reason_is_a_str_enum_and_the_doc_lists_exactly_it():
    assert Reason("timeout") is Reason.TIMEOUT and Reason.TIMEOUT == "timeout"
    assert {r.value: r.description for r in Reason} == REASONS
    doc = DOC.read_text(encoding="utf-8")
    assert reason_table() in doc
    listed = re.findall(
        r"^\| `(\w+)` \| ", doc.split("| reason | meaning |")[1].split("\n\n")[0], re.M
    )
    assert listed == [r.value for r in Reason]
