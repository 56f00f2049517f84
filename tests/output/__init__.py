"""Tests of vidray.output, and a helper that writes OUTPUT without Ray."""

from __future__ import annotations

from typing import Any

from vidray.io import storage
from vidray.output import ErrorRow, OutputRow, UnitResult, UnitWriter
from vidray.schema import Reason


def write_unit(
    out: storage.Location,
    unit: str,
    samples: int,
    rows: list[dict[str, Any]] | list[OutputRow],
    errors: list[dict[str, Any]],
    *,
    shard: str = "",
    index: int = 0,
    last: bool = False,
    split: str = "train",
    layout: str = "rows",
) -> UnitResult:
    """Stage, commit and publish one unit of rows (``OutputRow``s, or ``OUTPUT_SCHEMA``
    dicts; error rows as ``ERROR_SCHEMA`` dicts), as the convert stage does its own."""
    writer = UnitWriter(out, unit, shard, index, last, split=split, layout=layout)
    for row in rows:
        writer.add(row if isinstance(row, OutputRow) else OutputRow.from_dict(row))
    for e in errors:
        writer.add_error(
            ErrorRow(e["id"], e["source"], e["video"], Reason(e["reason"]), e["message"])
        )
    return writer.commit(samples)
