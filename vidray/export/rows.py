"""Reading a vidray OUTPUT for an export: its committed data files, their rows (either
layout, one batch of frames in memory at a time), the first row and the dataset split
it was converted from."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from vidray.export.errors import ExportError

_COLUMNS = ["id", "source", "video", "clip_start", "clip_end", "conversations", "query",
            "frames", "frame_timestamps", "width", "height"]  # fmt: skip
#: Columns of schema version 2; a version 1 file lacks them (read as null).
_OPTIONAL = ["label", "classname"]


def _data_files(out: Any) -> tuple[list[str], dict[str, Any] | None]:
    """The committed data files of OUTPUT (``sink.committed_data_files``) and its
    manifest, or an ExportError when OUTPUT is not a vidray output or holds no data."""
    from vidray import sink
    from vidray.io import storage

    if storage.exists(out, sink.MARKER):
        return sink.committed_data_files(out), sink.read_manifest(out)
    if not any(storage.exists(out, rel) for rel in (sink.UNITS_DIR, "_units", sink.RUN_FILE)):
        raise ExportError(
            f"{out.display()} is not a vidray output (no {sink.MARKER}, "
            f"{sink.UNITS_DIR}/ or {sink.RUN_FILE})"
        )
    files = sink.committed_data_files(out)
    if files:
        print(
            f"vidray: warning: {out.display()} has no {sink.MARKER} (a job still running or "
            f"stopped): exporting the {len(files)} data files committed so far",
            file=sys.stderr,
        )
    return files, None


def _iter_rows(out: Any, files: list[str]) -> Iterator[dict[str, Any]]:
    """Rows of ``files``, one per question in either layout (a clips file's rows are
    flattened with ``schema.flatten_clip_row``), a few at a time: memory holds one
    batch of frames, not the dataset."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vidray.io import storage
    from vidray.schema import CLIP_SCHEMA, OUTPUT_SCHEMA, flatten_clip_row, layout_of

    for rel in files:
        with storage.open_read(out, rel) as f:
            try:
                pf = pq.ParquetFile(f)
            except (pa.ArrowException, OSError) as e:
                raise ExportError(f"{out.display(rel)}: not a Parquet file: {e}") from None
            schema = pf.schema_arrow
            clips = layout_of(schema) == "clips"
            want_schema = CLIP_SCHEMA if clips else OUTPUT_SCHEMA
            # A clips file is read whole (it is never of schema version 1).
            wanted = list(CLIP_SCHEMA.names) if clips else _COLUMNS
            for col in wanted:
                want = want_schema.field(col).type
                if col not in schema.names or not schema.field(col).type.equals(want):
                    raise ExportError(
                        f"{out.display(rel)}: not a vidray data file (column {col!r} missing "
                        f"or not {want})"
                    )
            optional = [c for c in _OPTIONAL if c in schema.names and c not in wanted]
            keep = [*_COLUMNS, *_OPTIONAL]
            for batch in pf.iter_batches(batch_size=32, columns=wanted + optional):
                for record in batch.to_pylist():
                    for row in flatten_clip_row(record):
                        yield {**dict.fromkeys(_OPTIONAL), **{k: row[k] for k in keep if k in row}}


def _first_row(out: Any, files: list[str]) -> dict[str, Any]:
    """The output's first row: its source when no ``_SUCCESS`` says it, and whether the
    output holds images or videos."""
    for row in _iter_rows(out, files[:1]):
        return row
    raise ExportError(f"{out.display(files[0])} has no rows")


def is_image_row(row: dict[str, Any]) -> bool:
    """An image row has its image(s) in ``frames`` and no time axis (a video row has a
    timestamp per frame)."""
    return not row["frame_timestamps"]


def _dataset_split(out: Any, manifest: dict[str, Any] | None, source: str) -> str:
    """The dataset split the output was converted from (``--split``, else the source's
    default): the ``split`` of a ``clip`` record when the export makes no split."""
    from vidray import sink, sources
    from vidray.io import storage

    options = (manifest or {}).get("options")
    if options is None and storage.exists(out, sink.RUN_FILE):
        with storage.open_read(out, sink.RUN_FILE) as f:
            options = json.load(f).get("options")
    split = (options or {}).get("split")
    if split:
        return str(split)
    cls = sources.REGISTRY.get(source)
    return getattr(cls, "default_split", None) or "train"
