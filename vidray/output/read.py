"""Reading OUTPUT: the one reader of its committed files, for every consumer.

``data_files`` lists what is committed (refusing what is not a vidray OUTPUT),
``DataFile`` opens one data file of either layout and either schema version and gives
its rows one per question (by row group for ``VidrayReader``, by batch for exports and
the report, as Arrow for ``read_output``), and ``read_unit_rows`` gives a unit's rows
back to a retry. Every failure to read is an ``OutputError`` with a one-line message.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vidray.io import storage
from vidray.output.manifests import (
    committed_data_files,
    committed_error_files,
    committed_records,
    unit_record,
)
from vidray.output.names import (
    MARKER,
    RUN_FILE,
    UNITS_DIR,
    OutputError,
    read_manifest,
    read_run,
)
from vidray.output.rows import (
    OutputRow,
    batch_dicts,
    check_schema,
    conform,
    flatten_clips,
    from_table,
)
from vidray.schema import CLIP_SCHEMA, ERROR_SCHEMA, OUTPUT_SCHEMA

__all__ = ["DataFile", "OutputError", "data_files", "iter_rows", "read_output"]


def is_output(out: storage.Location) -> bool:
    """Whether ``out`` holds a vidray OUTPUT (finished, or a job's under way)."""
    return any(storage.exists(out, rel) for rel in (MARKER, UNITS_DIR, "_units", RUN_FILE))


def data_files(
    out: storage.Location, *, warn: bool = False
) -> tuple[list[str], dict[str, Any] | None]:
    """The committed data files of OUTPUT and its ``_SUCCESS`` (None while a job is
    under way, or after one stopped); ``OutputError`` when OUTPUT is not a vidray
    output. ``warn``: say on stderr that an OUTPUT without ``_SUCCESS`` is read as far
    as it is committed."""
    if storage.exists(out, MARKER):
        return committed_data_files(out), read_manifest(out)
    if not is_output(out):
        raise OutputError(
            f"{out.display()} is not a vidray output (no {MARKER}, {UNITS_DIR}/ or {RUN_FILE})"
        )
    files = committed_data_files(out)
    if files and warn:
        print(
            f"vidray: warning: {out.display()} has no {MARKER} (a job still running or "
            f"stopped): exporting the {len(files)} data files committed so far",
            file=sys.stderr,
        )
    return files, None


class DataFile:
    """One data file of OUTPUT, open: its rows one per question, in either layout
    (``schema.flatten_clip_row``), and of schema version 1 (``label`` and
    ``classname`` null)."""

    def __init__(self, out: storage.Location, rel: str, f: Any) -> None:
        self.where = out.display(rel)
        try:
            self.pf = pq.ParquetFile(f)
        except (pa.ArrowException, OSError) as e:
            raise OutputError(f"{self.where}: not a Parquet file: {e}") from None
        check_schema(self.pf.schema_arrow, self.where)

    @property
    def num_row_groups(self) -> int:
        return self.pf.num_row_groups

    def row_group(self, index: int, rows: tuple[int, int] | None = None) -> list[dict[str, Any]]:
        """Row group ``index``'s rows (``rows``: its stored rows ``[start, stop)`` only),
        one dict of ``OUTPUT_SCHEMA`` columns a question."""
        table = self.pf.read_row_group(index)
        if rows is not None:
            table = table.slice(rows[0], rows[1] - rows[0])
        return batch_dicts(table, self.where)

    def rows(self, batch_size: int = 32) -> Iterator[dict[str, Any]]:
        """Every row, a batch at a time: memory holds one batch of frames."""
        for batch in self.pf.iter_batches(batch_size=batch_size):
            yield from batch_dicts(batch, self.where)

    def table(self, *, flat: bool = True) -> pa.Table:
        """The file as ``OUTPUT_SCHEMA`` rows (``flat=False``: as stored, ``CLIP_SCHEMA``
        for a file of the clips layout)."""
        table = conform(self.pf.read(), self.where)
        return flatten_clips(table) if flat and table.schema.equals(CLIP_SCHEMA) else table


@contextlib.contextmanager
def open_data_file(out: storage.Location, rel: str) -> Iterator[DataFile]:
    with storage.open_read(out, rel) as f:
        yield DataFile(out, rel, f)


def iter_rows(out: storage.Location, files: list[str]) -> Iterator[dict[str, Any]]:
    """The rows of ``files``, one dict of ``OUTPUT_SCHEMA`` columns per question, a
    few at a time."""
    for rel in files:
        with open_data_file(out, rel) as data:
            yield from data.rows()


def first_row(out: storage.Location, files: list[str]) -> dict[str, Any] | None:
    """The first row of ``files`` (None if the first file has none)."""
    return next(iter_rows(out, files[:1]), None)


def read_data_file(out: storage.Location, rel: str, *, flat: bool = True) -> pa.Table:
    """One data file of OUTPUT: ``OUTPUT_SCHEMA`` rows, one per question, whatever its
    layout (``flat=False``: as stored, ``CLIP_SCHEMA`` for a file of the clips layout)."""
    with open_data_file(out, rel) as data:
        return data.table(flat=flat)


def read_unit_rows(out: storage.Location, unit: str, shard: str | None = None) -> list[OutputRow]:
    """The committed data rows of ``unit`` (of ``shard``: its record may be in the
    shard's manifest), one per question in either layout (none if the unit is not
    committed or has no data file)."""
    r = unit_record(out, unit, shard)
    if r is None or not r.data_file or not storage.exists(out, r.data_file):
        return []
    return from_table(read_data_file(out, r.data_file), out.display(r.data_file))


def failed_samples(out: storage.Location) -> tuple[dict[str, dict[int, tuple[str, ...]]], int]:
    """``--retry-failed``: shard -> unit index -> ids of the unit's samples recorded in
    its error file (``__errors/``), and the samples of those units in all."""
    failed: dict[str, dict[int, tuple[str, ...]]] = {}
    samples = 0
    for r in committed_records(out):
        if r.error_file:
            with storage.open_read(out, r.error_file) as f:
                ids = pq.read_table(f, columns=["id"]).column("id").to_pylist()
            failed.setdefault(r.shard, {})[r.index] = tuple(ids)
            samples += r.samples
    return failed, samples


def run_options(out: storage.Location, manifest: dict[str, Any] | None) -> dict[str, Any]:
    """The options of the command that wrote OUTPUT (``_SUCCESS``, else
    ``_vidray_run.json``; empty if neither has them)."""
    options = (manifest or {}).get("options")
    if options is None:
        options = (read_run(out) or {}).get("options")
    return options or {}


def dataset_split(out: storage.Location, manifest: dict[str, Any] | None, source: str) -> str:
    """The dataset split the output was converted from (``--split``, else the source's
    default)."""
    from vidray import sources

    split = run_options(out, manifest).get("split")
    if split:
        return str(split)
    cls = sources.REGISTRY.get(source)
    return getattr(cls, "default_split", None) or "train"


def read_output(uri: str, kind: str = "data", *, flat: bool = True) -> pa.Table:
    """Read the committed ``data`` (or ``errors``) files of an output root; while a
    job is still running, the units committed so far. Data comes as ``OUTPUT_SCHEMA``
    rows, one per question, in either layout; ``flat=False`` returns a clips OUTPUT as
    stored (``CLIP_SCHEMA``, one row per clip)."""
    if kind not in ("data", "errors"):
        raise ValueError(f"kind must be 'data' or 'errors', got {kind!r}")
    out = storage.location(uri)
    if kind == "errors":
        tables = []
        for rel in committed_error_files(out):
            with storage.open_read(out, rel) as f:
                tables.append(pq.read_table(f, schema=ERROR_SCHEMA))
        return pa.concat_tables(tables) if tables else ERROR_SCHEMA.empty_table()
    tables = [read_data_file(out, rel, flat=flat) for rel in committed_data_files(out)]
    if not tables:
        return OUTPUT_SCHEMA.empty_table()
    if len({t.schema for t in tables}) > 1:
        raise OutputError(f"{out.display()} mixes data files of both layouts")
    return pa.concat_tables(tables)
