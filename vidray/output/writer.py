"""The unit writer: a unit's files, staged as its rows arrive, then committed.

A unit is written in three steps:

1. its data and error files are written, atomically, under ``__staging/``;
2. its commit record ``__units/<unit>.json`` is written: the unit is now committed;
3. the files are moved to ``data/`` and ``__errors/`` (published).

A reader listing ``data/`` therefore sees committed, complete files only. A crash
between 2 and 3 is finished by the next run, which also skips committed units (resume).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vidray.io import storage
from vidray.output.names import (
    STAGING_DIR,
    UNITS_DIR,
    data_file_name,
    error_file_name,
    write_json,
)
from vidray.output.rows import ClipRow, ErrorRow, OutputRow, question_of, same_clip, to_table
from vidray.records import UnitResult
from vidray.schema import CLIP_SCHEMA, LAYOUTS, OUTPUT_SCHEMA

#: A data file's row group closes at this many rows, or once its rows hold this many
#: bytes of frames: a unit is written as it is produced, never held whole.
ROW_GROUP_ROWS = 256
ROW_GROUP_BYTES = 64 * 2**20


def _write_table(out: storage.Location, rel: str, table: pa.Table) -> None:
    storage.write_atomic(
        out,
        rel,
        lambda f: pq.write_table(table, f, compression="zstd", row_group_size=ROW_GROUP_ROWS),
    )


class UnitWriter:
    """Writes one unit's files as its rows arrive, then commits it.

    Data rows go to a Parquet file staged under ``__staging/``, in row groups of at most
    ``ROW_GROUP_ROWS`` records or ``ROW_GROUP_BYTES`` of frames, so a unit of long videos
    sampled densely at native size is never held in memory whole. With ``layout``
    ``clips`` consecutive rows of one clip (the rows of one sample, which share their
    frames) become one ``CLIP_SCHEMA`` record holding the frames once. Error rows are
    small and written at the end. ``commit`` then writes the unit's commit record and
    publishes its files; a unit that is not committed leaves only staging files."""

    def __init__(
        self,
        out: storage.Location,
        unit: str,
        shard: str,
        index: int,
        last: bool,
        *,
        split: str = "train",
        layout: str = "rows",
    ):
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.out, self.unit, self.shard, self.index, self.last = out, unit, shard, index, last
        self.layout = layout
        self.schema = CLIP_SCHEMA if layout == "clips" else OUTPUT_SCHEMA
        self.data_rel = data_file_name(unit, split)
        self.error_rel = error_file_name(unit)
        self._pending: list[Any] = []  # OutputRow, or ClipRow (layout clips)
        self._pending_bytes = 0
        self._errors: list[ErrorRow] = []
        self._open = contextlib.ExitStack()  # the staged data file, once rows come
        self._writer: pq.ParquetWriter | None = None
        self._clip: OutputRow | ClipRow | None = None  # the clip whose rows are arriving
        self.rows = self.frames = self.clips = 0

    def add(self, row: OutputRow) -> None:
        self.rows += 1
        self.frames += len(row.frames)
        same = self._clip is not None and same_clip(self._clip, row)
        if not same:
            self.clips += 1
        if self.layout == "rows":
            self._clip = row
            self._queue(row)
            return
        if same:
            assert isinstance(self._clip, ClipRow)
            self._clip.questions.append(question_of(row))
            return
        self._close_clip()
        self._clip = ClipRow.of(row)

    def _close_clip(self) -> None:
        if isinstance(self._clip, ClipRow):
            self._queue(self._clip)
        self._clip = None

    def _queue(self, record: OutputRow | ClipRow) -> None:
        self._pending.append(record)
        self._pending_bytes += sum(len(f) for f in record.frames)
        if len(self._pending) >= ROW_GROUP_ROWS or self._pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def add_error(self, row: ErrorRow) -> None:
        self._errors.append(row)

    def _flush(self) -> None:
        if not self._pending:
            return
        table = to_table(self._pending)
        self._pending, self._pending_bytes = [], 0
        if self._writer is None:
            rel = f"{STAGING_DIR}/{self.data_rel}"
            f = self._open.enter_context(storage.atomic_writer(self.out, rel))
            self._writer = pq.ParquetWriter(f, self.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def commit(
        self,
        samples: int,
        decoders: dict[str, int] | None = None,
        cpu_reasons: dict[str, int] | None = None,
        groups: dict[str, int] | None = None,
    ) -> UnitResult:
        """Finish the files, write the commit record, publish; the unit's result."""
        self._close_clip()
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._open.close()  # the staged file appears whole
        if self._errors:
            table = to_table(self._errors)
            _write_table(self.out, f"{STAGING_DIR}/{self.error_rel}", table)
        result = UnitResult(
            unit=self.unit,
            shard=self.shard,
            index=self.index,
            last=self.last,
            samples=samples,
            rows=self.rows,
            frames=self.frames,
            errors=dict(Counter(str(e.reason) for e in self._errors)),
            data_file=self.data_rel if self.rows else None,
            error_file=self.error_rel if self._errors else None,
            decoders=dict(decoders or {}),
            cpu_reasons=dict(cpu_reasons or {}),
            groups=dict(groups or {}),
            committed_at=round(time.time(), 3),
            clips=self.clips,
        )
        write_json(self.out, f"{UNITS_DIR}/{self.unit}.json", result.to_json())
        publish(self.out, result)
        return result

    def abort(self) -> None:
        """Drop a unit that failed part-way: its staged file is never committed."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        # Leave the atomic writer by an exception: no staged file appears.
        self._open.__exit__(RuntimeError, RuntimeError("unit aborted"), None)


def publish(out: storage.Location, result: UnitResult) -> None:
    """Move a committed unit's staged files into place; idempotent. An error file the
    unit no longer has (a retry fixed its samples) is removed; a stale data file is
    left to ``commit``, which removes every file no committed unit owns."""
    for file in (result.data_file, result.error_file):
        if file and storage.exists(out, f"{STAGING_DIR}/{file}"):
            storage.move(out, f"{STAGING_DIR}/{file}", file)
    if not result.error_file:
        storage.remove(out, error_file_name(result.unit))
