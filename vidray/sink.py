"""The Parquet sink: one data file and one error file per unit of work, and a commit
marker written last.

A unit is a run of consecutive samples of one input shard; its files are named after
the shard and the unit's position in it, so the same input always maps to the same
file names and a rerun replaces files instead of adding new ones. Every file is
written atomically (see ``storage.write_atomic``). ``_SUCCESS`` lists the files of the
finished run; readers should trust it rather than a directory listing.
"""

from __future__ import annotations

import json
import posixpath
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vidray.io import storage
from vidray.schema import ERROR_SCHEMA, OUTPUT_SCHEMA, SCHEMA_VERSION

DATA_DIR = "data"
ERRORS_DIR = "errors"
MARKER = "_SUCCESS"

#: What the convert stage reports per unit, one row each.
UNIT_RESULT_SCHEMA = pa.schema(
    [
        pa.field("unit", pa.string()),
        pa.field("samples", pa.int64()),
        pa.field("rows", pa.int64()),
        pa.field("frames", pa.int64()),
        pa.field("errors", pa.string()),  # JSON {reason: count}
        pa.field("data_file", pa.string()),
        pa.field("error_file", pa.string()),
    ]
)


def unit_name(shard: str, index: int) -> str:
    """``data/train-00001.parquet``, 3 -> ``data__train-00001-00003``."""
    stem = shard.rsplit(".", 1)[0] if "." in posixpath.basename(shard) else shard
    return f"{stem.replace('/', '__')}-{index:05d}"


def _write_table(out: storage.Location, rel: str, table: pa.Table) -> None:
    storage.write_atomic(
        out, rel, lambda f: pq.write_table(table, f, compression="zstd", row_group_size=256)
    )


def write_unit(
    out: storage.Location, unit: str, samples: int, rows: list[dict], errors: list[dict]
) -> dict[str, Any]:
    """Write the unit's files (replacing earlier ones) and return its result row."""
    data_rel = f"{DATA_DIR}/{unit}.parquet"
    error_rel = f"{ERRORS_DIR}/{unit}.parquet"
    if rows:
        _write_table(out, data_rel, pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA))
    else:
        storage.remove(out, data_rel)
    if errors:
        _write_table(out, error_rel, pa.Table.from_pylist(errors, schema=ERROR_SCHEMA))
    else:
        storage.remove(out, error_rel)
    return {
        "unit": unit,
        "samples": samples,
        "rows": len(rows),
        "frames": sum(len(r["frames"]) for r in rows),
        "errors": json.dumps(Counter(e["reason"] for e in errors)),
        "data_file": data_rel if rows else None,
        "error_file": error_rel if errors else None,
    }


def begin(out: storage.Location) -> None:
    """Withdraw the previous commit: while a run is under way, no marker vouches for it."""
    storage.remove(out, MARKER)


def commit(
    out: storage.Location, results: Iterable[dict[str, Any]], info: dict[str, Any]
) -> dict[str, Any]:
    """Drop files no unit of this run wrote, then write ``_SUCCESS`` last."""
    results = sorted(results, key=lambda r: r["unit"])
    units = [r["unit"] for r in results]
    if len(units) != len(set(units)):
        dup = sorted({u for u in units if units.count(u) > 1})
        raise RuntimeError(f"units written more than once: {dup[:5]}")
    data_files = [r["data_file"] for r in results if r["data_file"]]
    error_files = [r["error_file"] for r in results if r["error_file"]]
    keep = set(data_files) | set(error_files)
    for sub in (DATA_DIR, ERRORS_DIR):
        for rel in storage.list_files(out, (".parquet",), sub):
            if rel not in keep:
                storage.remove(out, rel)
    reasons: Counter[str] = Counter()
    for r in results:
        reasons.update(json.loads(r["errors"]))
    manifest = {
        **info,
        "schema_version": SCHEMA_VERSION,
        "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": {
            "samples": sum(r["samples"] for r in results),
            "rows": sum(r["rows"] for r in results),
            "frames": sum(r["frames"] for r in results),
            "errors": sum(reasons.values()),
            "errors_by_reason": dict(sorted(reasons.items())),
            "units": len(results),
        },
        "data_files": data_files,
        "error_files": error_files,
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    storage.write_atomic(out, MARKER, lambda f: f.write(body))
    return manifest


def read_manifest(out: storage.Location) -> dict[str, Any]:
    with storage.open_read(out, MARKER) as f:
        return json.loads(f.read())


def read_output(uri: str, kind: str = DATA_DIR) -> pa.Table:
    """Read the committed ``data`` (or ``errors``) files of an output root."""
    out = storage.location(uri)
    manifest = read_manifest(out)
    files = manifest["data_files" if kind == DATA_DIR else "error_files"]
    schema = OUTPUT_SCHEMA if kind == DATA_DIR else ERROR_SCHEMA
    tables = []
    for rel in files:
        with storage.open_read(out, rel) as f:
            tables.append(pq.read_table(f, schema=schema))
    return pa.concat_tables(tables) if tables else schema.empty_table()
