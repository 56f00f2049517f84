"""The typed rows of OUTPUT and their Arrow form: the only module that converts them.

    convert stage -> OutputRow  one question (conversation) with its frames: OUTPUT_SCHEMA
                  -> ErrorRow   one question that could not be converted: ERROR_SCHEMA
    unit writer   -> ClipRow    (``--layout clips``) one clip, its frames once, and its
                                questions (``Question``): CLIP_SCHEMA

Reading goes the other way: a data file's Arrow data, of either layout and either
schema version (``conform``), as one row per question: ``OutputRow``s (``from_table``)
or plain dicts of ``OUTPUT_SCHEMA`` columns (``batch_dicts``), what readers hand on.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, TypedDict

import pyarrow as pa

from vidray.output.names import OutputError
from vidray.schema import (
    CLIP_COLUMNS,
    CLIP_SCHEMA,
    ERROR_SCHEMA,
    OUTPUT_SCHEMA,
    Reason,
    flatten_clip_row,
    layout_of,
)

#: One turn of a conversation, as ``schema.TURN`` stores it.
Turn = TypedDict("Turn", {"from": str, "value": str})


@dataclass(slots=True)
class OutputRow:
    """One training sample: an ``OUTPUT_SCHEMA`` row (the fields are its columns)."""

    id: str
    source: str
    video: str
    clip_start: float | None
    clip_end: float | None
    conversations: list[Turn]
    query: str | None
    frames: list[bytes]
    frame_timestamps: list[float]
    width: int
    height: int
    video_duration: float | None
    video_fps: float | None
    label: int | None = None
    classname: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _ROW_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OutputRow:
        return cls(**{name: d.get(name) for name in _ROW_FIELDS})


@dataclass(slots=True)
class Question:
    """What differs between the rows of one clip: an element of ``ClipRow.questions``."""

    id: str
    conversations: list[Turn]
    query: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "conversations": self.conversations, "query": self.query}


@dataclass(slots=True)
class ClipRow:
    """One clip (or image) with its questions: a ``CLIP_SCHEMA`` row."""

    clip_id: str
    source: str
    video: str
    clip_start: float | None
    clip_end: float | None
    frames: list[bytes]
    frame_timestamps: list[float]
    width: int
    height: int
    video_duration: float | None
    video_fps: float | None
    label: int | None
    classname: str | None
    questions: list[Question]

    @classmethod
    def of(cls, row: OutputRow) -> ClipRow:
        """The clip of ``row``, holding its question."""
        shared = {c: getattr(row, c) for c in CLIP_COLUMNS}
        return cls(clip_id=clip_id(row), **shared, questions=[question_of(row)])

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in _CLIP_FIELDS}
        d["questions"] = [q.to_dict() for q in self.questions]
        return d


def question_of(row: OutputRow) -> Question:
    return Question(row.id, row.conversations, row.query)


@dataclass(slots=True)
class ErrorRow:
    """One question (or sample) that could not be converted: an ``ERROR_SCHEMA`` row."""

    id: str
    source: str
    video: str | None
    reason: Reason
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "video": self.video,
                "reason": str(self.reason), "message": self.message}  # fmt: skip


_ROW_FIELDS = tuple(f.name for f in fields(OutputRow))
_CLIP_FIELDS = tuple(f.name for f in fields(ClipRow) if f.name != "questions")


def clip_id(row: OutputRow) -> str:
    """``<source>:<video>``, or ``<source>:<video>@<start>-<end>`` for a span (bounds to
    the millisecond, trailing zeros dropped, as in the sources' ids)."""
    base = f"{row.source}:{row.video}"
    if row.clip_start is None and row.clip_end is None:
        return base
    return f"{base}@{_fmt_time(row.clip_start)}-{_fmt_time(row.clip_end)}"


def _fmt_time(t: float | None) -> str:
    return "end" if t is None else f"{t:.3f}".rstrip("0").rstrip(".")


def same_clip(a: OutputRow | ClipRow, b: OutputRow) -> bool:
    """Whether ``b`` shows the clip of ``a``: every clip column equal (the rows of one
    sample share one list of frames, so the frames usually compare by identity)."""
    if not (a.frames is b.frames or a.frames == b.frames):
        return False
    return all(getattr(a, c) == getattr(b, c) for c in CLIP_COLUMNS if c != "frames")


# ------------------------------------------------------------------------ to Arrow


def to_table(records: list[OutputRow] | list[ClipRow] | list[ErrorRow]) -> pa.Table:
    """Records of one kind as a table of their schema."""
    if not records:
        raise ValueError("to_table needs at least one record")
    schema = _SCHEMAS[type(records[0])]
    return pa.Table.from_pylist([r.to_dict() for r in records], schema=schema)


_SCHEMAS: dict[type, pa.Schema] = {
    OutputRow: OUTPUT_SCHEMA,
    ClipRow: CLIP_SCHEMA,
    ErrorRow: ERROR_SCHEMA,
}


# ---------------------------------------------------------------------- from Arrow

#: Columns of schema version 2 that a version 1 data file lacks (read as null).
SINCE_VERSION_2 = ("label", "classname")


def expected_schema(schema: pa.Schema) -> pa.Schema:
    """The schema a data file of ``schema`` is read as: CLIP_SCHEMA or OUTPUT_SCHEMA."""
    return CLIP_SCHEMA if layout_of(schema) == "clips" else OUTPUT_SCHEMA


def check_schema(schema: pa.Schema, where: str) -> pa.Schema:
    """The schema a data file is read as, once its columns are checked (every column of
    it, of its type, but those a version 1 file lacks); else ``OutputError``."""
    expected = expected_schema(schema)
    for field in expected:
        if field.name not in schema.names and field.name in SINCE_VERSION_2:
            continue
        if field.name not in schema.names or not schema.field(field.name).type.equals(field.type):
            raise OutputError(
                f"{where}: not a vidray data file (column {field.name!r} missing or not "
                f"{field.type})"
            )
    return expected


def conform(table: pa.Table | pa.RecordBatch, where: str) -> pa.Table:
    """Arrow data of a data file as its layout's schema, columns in order (those a
    version 1 file lacks as null)."""
    expected = check_schema(table.schema, where)
    columns = [
        table.column(f.name) if f.name in table.schema.names else pa.nulls(len(table), f.type)
        for f in expected
    ]
    return pa.Table.from_arrays(columns, schema=expected)


def batch_dicts(table: pa.Table | pa.RecordBatch, where: str) -> list[dict[str, Any]]:
    """Arrow data of a data file as one dict of ``OUTPUT_SCHEMA`` columns per question."""
    out: list[dict[str, Any]] = []
    for record in conform(table, where).to_pylist():
        out.extend(flatten_clip_row(record))
    return out


def from_table(table: pa.Table, where: str) -> list[OutputRow]:
    """Arrow data of a data file as ``OutputRow``s, one per question."""
    return [OutputRow.from_dict(d) for d in batch_dicts(table, where)]


def flatten_clips(table: pa.Table) -> pa.Table:
    """A ``CLIP_SCHEMA`` table as ``OUTPUT_SCHEMA`` rows (``schema.flatten_clip_row``
    over Arrow columns: each clip's columns repeated for each of its questions)."""
    import pyarrow.compute as pc

    questions = table.column("questions").combine_chunks()
    parents = pc.list_parent_indices(questions)
    flat = pc.list_flatten(questions)
    clips = table.take(parents)
    columns = {
        f.name: (
            flat.field(f.name) if f.name in ("id", "conversations", "query") else clips[f.name]
        )
        for f in OUTPUT_SCHEMA
    }
    return pa.table(columns, schema=OUTPUT_SCHEMA)
