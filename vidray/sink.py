"""The Parquet sink and its commit protocol.

A unit is a run of consecutive samples of one input shard; its files are named after
the shard and the unit's position in it, so the same input always maps to the same
file names. A unit is written in three steps:

1. its data and error files are written, atomically, under ``_staging/``;
2. its commit record ``_units/<unit>.json`` is written: the unit is now committed;
3. the files are moved to ``data/`` and ``errors/`` (published).

A reader listing ``data/`` therefore sees committed, complete files only. A crash
between 2 and 3 is finished by the next run, which also skips committed units
(resume). ``_vidray_run.json`` fingerprints the command that owns OUTPUT: another
command is refused unless asked to overwrite. ``_SUCCESS`` is written last, when every
unit is committed, and lists every file of the output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vidray.io import storage
from vidray.records import UnitResult
from vidray.schema import ERROR_SCHEMA, OUTPUT_SCHEMA, SCHEMA_VERSION

DATA_DIR = "data"
ERRORS_DIR = "errors"
MARKER = "_SUCCESS"
UNITS_DIR = "_units"
STAGING_DIR = "_staging"
RUN_FILE = "_vidray_run.json"


class OutputConflict(Exception):
    """OUTPUT belongs to another command (or to no vidray command)."""


#: How units are cut and files named. 2: a unit is not cut between samples of one
#: video (0.2). An earlier layout's committed units cannot be resumed by this one.
UNIT_LAYOUT = 2
#: A data file's row group closes at this many rows, or once its rows hold this many
#: bytes of frames: a unit is written as it is produced, never held whole.
ROW_GROUP_ROWS = 256
ROW_GROUP_BYTES = 64 * 2**20


def unit_name(shard: str, index: int) -> str:
    """``data/train-00001.parquet``, 3 -> ``data__train-00001-00003``."""
    stem = shard.rsplit(".", 1)[0] if "." in posixpath.basename(shard) else shard
    return f"{stem.replace('/', '__')}-{index:05d}"


def _write_table(out: storage.Location, rel: str, table: pa.Table) -> None:
    storage.write_atomic(
        out,
        rel,
        lambda f: pq.write_table(table, f, compression="zstd", row_group_size=ROW_GROUP_ROWS),
    )


def _json(out: storage.Location, rel: str) -> Any:
    with storage.open_read(out, rel) as f:
        return json.loads(f.read())


def _write_json(out: storage.Location, rel: str, value: Any) -> None:
    body = json.dumps(value, indent=2, sort_keys=True).encode()
    storage.write_atomic(out, rel, lambda f: f.write(body))


class UnitWriter:
    """Writes one unit's files as its rows arrive, then commits it.

    Data rows go to a Parquet file staged under ``_staging/``, in row groups of at most
    ``ROW_GROUP_ROWS`` rows or ``ROW_GROUP_BYTES`` of frames, so a unit of long videos
    sampled densely at native size is never held in memory whole. Error rows are
    small and written at the end. ``commit`` then writes the unit's commit record and
    publishes its files; a unit that is not committed leaves only staging files."""

    def __init__(self, out: storage.Location, unit: str, shard: str, index: int, last: bool):
        self.out, self.unit, self.shard, self.index, self.last = out, unit, shard, index, last
        self.data_rel = f"{DATA_DIR}/{unit}.parquet"
        self.error_rel = f"{ERRORS_DIR}/{unit}.parquet"
        self._pending: list[dict[str, Any]] = []
        self._pending_bytes = 0
        self._errors: list[dict[str, Any]] = []
        self._open = contextlib.ExitStack()  # the staged data file, once rows come
        self._writer: pq.ParquetWriter | None = None
        self.rows = self.frames = 0

    def add(self, row: dict[str, Any]) -> None:
        self._pending.append(row)
        self._pending_bytes += sum(len(f) for f in row["frames"])
        self.rows += 1
        self.frames += len(row["frames"])
        if len(self._pending) >= ROW_GROUP_ROWS or self._pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def add_error(self, row: dict[str, Any]) -> None:
        self._errors.append(row)

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_pylist(self._pending, schema=OUTPUT_SCHEMA)
        self._pending, self._pending_bytes = [], 0
        if self._writer is None:
            rel = f"{STAGING_DIR}/{self.data_rel}"
            f = self._open.enter_context(storage.atomic_writer(self.out, rel))
            self._writer = pq.ParquetWriter(f, OUTPUT_SCHEMA, compression="zstd")
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def commit(
        self,
        samples: int,
        decoders: dict[str, int] | None = None,
        cpu_reasons: dict[str, int] | None = None,
        groups: dict[str, int] | None = None,
    ) -> UnitResult:
        """Finish the files, write the commit record, publish; the unit's result."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._open.close()  # the staged file appears whole
        if self._errors:
            table = pa.Table.from_pylist(self._errors, schema=ERROR_SCHEMA)
            _write_table(self.out, f"{STAGING_DIR}/{self.error_rel}", table)
        result = UnitResult(
            unit=self.unit,
            shard=self.shard,
            index=self.index,
            last=self.last,
            samples=samples,
            rows=self.rows,
            frames=self.frames,
            errors=dict(Counter(e["reason"] for e in self._errors)),
            data_file=self.data_rel if self.rows else None,
            error_file=self.error_rel if self._errors else None,
            decoders=dict(decoders or {}),
            cpu_reasons=dict(cpu_reasons or {}),
            groups=dict(groups or {}),
            committed_at=round(time.time(), 3),
        )
        _write_json(self.out, f"{UNITS_DIR}/{self.unit}.json", result.to_json())
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


def write_unit(
    out: storage.Location,
    unit: str,
    samples: int,
    rows: Iterable[dict[str, Any]],
    errors: Iterable[dict[str, Any]],
    *,
    shard: str = "",
    index: int = 0,
    last: bool = False,
) -> UnitResult:
    """Stage, commit and publish one unit from rows at hand (``UnitWriter`` in one go)."""
    writer = UnitWriter(out, unit, shard, index, last)
    for row in rows:
        writer.add(row)
    for error in errors:
        writer.add_error(error)
    return writer.commit(samples)


def publish(out: storage.Location, result: UnitResult) -> None:
    """Move a committed unit's staged files into place; idempotent."""
    for sub, file in ((DATA_DIR, result.data_file), (ERRORS_DIR, result.error_file)):
        rel = f"{sub}/{result.unit}.parquet"
        staged = f"{STAGING_DIR}/{rel}"
        if file and storage.exists(out, staged):
            storage.move(out, staged, rel)
        elif not file:
            storage.remove(out, rel)


def committed_units(out: storage.Location) -> dict[str, UnitResult]:
    records = storage.list_files(out, (".json",), UNITS_DIR)
    units = (UnitResult.from_json(_json(out, rel)) for rel in records)
    return {r.unit: r for r in units}


def failed_samples(
    out: storage.Location, committed: dict[str, UnitResult]
) -> dict[str, tuple[str, ...]]:
    """Unit name -> ids of its samples recorded in ``errors/``."""
    failed = {}
    for unit, r in committed.items():
        if r.error_file:
            with storage.open_read(out, r.error_file) as f:
                failed[unit] = tuple(pq.read_table(f, columns=["id"]).column("id").to_pylist())
    return failed


def read_unit_rows(out: storage.Location, unit: str) -> list[dict[str, Any]]:
    """The committed data rows of ``unit`` (none if it has no data file)."""
    rel = f"{DATA_DIR}/{unit}.parquet"
    if not storage.exists(out, rel):
        return []
    with storage.open_read(out, rel) as f:
        return pq.read_table(f, schema=OUTPUT_SCHEMA).to_pylist()


def fingerprint(options: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()


def claimed_units(
    out: storage.Location, options: dict[str, Any], *, overwrite: bool = False
) -> dict[str, UnitResult]:
    """Whether the command described by ``options`` may write OUTPUT, read-only: the
    units an earlier run of the same command committed (they are not redone), or
    ``OutputConflict`` when OUTPUT belongs to another command (or to none)."""
    if overwrite:
        return {}
    previous = _json(out, RUN_FILE) if storage.exists(out, RUN_FILE) else None
    if previous is None:
        if any(storage.exists(out, rel) for rel in (DATA_DIR, ERRORS_DIR, UNITS_DIR, MARKER)):
            raise OutputConflict(
                f"{out.display()} already holds output that no vidray command claims; "
                "pass --overwrite to replace it"
            )
        return {}
    if previous["fingerprint"] != fingerprint(options):
        old = previous.get("options", {})
        changed = sorted(k for k in {*old, *options} if old.get(k) != options.get(k))
        raise OutputConflict(
            f"{out.display()} holds the output of a different command "
            f"(differs in: {', '.join(changed)}); pass --overwrite to replace it"
        )
    return committed_units(out)


def check_layout(out: storage.Location) -> None:
    """Refuse to resume units that an earlier vidray cut by other rules: resuming them
    would drop or repeat samples at the old units' edges."""
    run = _json(out, RUN_FILE) if storage.exists(out, RUN_FILE) else {}
    layout = run.get("layout", 1)
    if layout != UNIT_LAYOUT:
        raise OutputConflict(
            f"{out.display()} holds units of layout {layout}, from an earlier vidray; this "
            f"one writes layout {UNIT_LAYOUT} and cannot resume them: pass --overwrite to "
            "convert again"
        )


def complete_manifest(
    out: storage.Location, options: dict[str, Any], inputs: dict[str, Any]
) -> dict[str, Any] | None:
    """The ``_SUCCESS`` of OUTPUT when the same command over the same inputs (the
    ``inputs`` digest ``commit`` recorded) already completed it; else None."""
    if not storage.exists(out, MARKER) or not storage.exists(out, RUN_FILE):
        return None
    if _json(out, RUN_FILE).get("fingerprint") != fingerprint(options):
        return None
    manifest = read_manifest(out)
    return manifest if manifest.get("inputs") == inputs else None


def begin(
    out: storage.Location,
    options: dict[str, Any],
    committed: dict[str, UnitResult],
    *,
    overwrite: bool = False,
) -> None:
    """Claim OUTPUT for the command described by ``options``, once ``claimed_units``
    allowed it: the first write of a run."""
    if overwrite:
        for rel in (DATA_DIR, ERRORS_DIR, UNITS_DIR, STAGING_DIR, MARKER, RUN_FILE):
            storage.remove_tree(out, rel)
    # While the run is under way no marker vouches for the whole output.
    storage.remove(out, MARKER)
    if not storage.exists(out, RUN_FILE):
        run = {"fingerprint": fingerprint(options), "options": options, "layout": UNIT_LAYOUT}
        _write_json(out, RUN_FILE, run)
    for result in committed.values():
        publish(out, result)  # finish publications a crash interrupted


def commit(
    out: storage.Location, results: Iterable[UnitResult], info: dict[str, Any]
) -> dict[str, Any]:
    """Drop files and staging leftovers no committed unit owns, then write ``_SUCCESS``."""
    results = sorted(results, key=lambda r: r.unit)
    units = [r.unit for r in results]
    if len(units) != len(set(units)):
        dup = sorted({u for u in units if units.count(u) > 1})
        raise RuntimeError(f"units written more than once: {dup[:5]}")
    data_files = [r.data_file for r in results if r.data_file]
    error_files = [r.error_file for r in results if r.error_file]
    keep = set(data_files) | set(error_files)
    for sub in (DATA_DIR, ERRORS_DIR):
        for rel in storage.list_files(out, (".parquet",), sub):
            if rel not in keep:
                storage.remove(out, rel)
    storage.remove_tree(out, STAGING_DIR)
    reasons: Counter[str] = Counter()
    decoders: Counter[str] = Counter()
    cpu_reasons: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    for r in results:
        reasons.update(r.errors)
        decoders.update(r.decoders)
        cpu_reasons.update(r.cpu_reasons)
        groups.update(r.groups)
    manifest = {
        **info,
        "schema_version": SCHEMA_VERSION,
        "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": {
            "samples": sum(r.samples for r in results),
            "rows": sum(r.rows for r in results),
            "frames": sum(r.frames for r in results),
            "errors": sum(reasons.values()),
            "errors_by_reason": dict(sorted(reasons.items())),
            "units": len(results),
            "decoders": dict(sorted(decoders.items())),
            "cpu_reasons": dict(sorted(cpu_reasons.items())),
            "groups": dict(sorted(groups.items())),
        },
        "data_files": data_files,
        "error_files": error_files,
    }
    _write_json(out, MARKER, manifest)
    return manifest


def read_manifest(out: storage.Location) -> dict[str, Any]:
    return _json(out, MARKER)


def committed_data_files(out: storage.Location) -> list[str]:
    """Relative paths of the committed data files of OUTPUT, sorted: the ``data_files``
    of ``_SUCCESS`` when the output is complete, else those of the units committed so
    far (``_units/*.json``) that are already in ``data/``. A unit between its commit
    record and its move out of ``_staging/`` (a moment, or until the next run after a
    crash) is not listed yet; a file no record names (a unit in progress) never is."""
    if storage.exists(out, MARKER):
        return sorted(read_manifest(out).get("data_files", []))
    named = {r.data_file for r in committed_units(out).values() if r.data_file}
    published = set(storage.list_files(out, (".parquet",), DATA_DIR))
    return sorted(named & published)


def read_output(uri: str, kind: str = DATA_DIR) -> pa.Table:
    """Read the committed ``data`` (or ``errors``) files of an output root; while a
    job is still running, the units committed so far."""
    out = storage.location(uri)
    key = "data_files" if kind == DATA_DIR else "error_files"
    if storage.exists(out, MARKER):
        files = read_manifest(out)[key]
    else:
        results = committed_units(out).values()
        named = (r.data_file if kind == DATA_DIR else r.error_file for r in results)
        files = sorted(f for f in named if f)
    schema = OUTPUT_SCHEMA if kind == DATA_DIR else ERROR_SCHEMA
    tables = []
    for rel in files:
        with storage.open_read(out, rel) as f:
            tables.append(pq.read_table(f, schema=schema))
    return pa.concat_tables(tables) if tables else schema.empty_table()
