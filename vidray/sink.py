"""The Parquet sink and its commit protocol.

A unit is a run of consecutive samples of one input shard; its files are named after
the shard and the unit's position in it, so the same input always maps to the same
file names. A unit is written in three steps:

1. its data and error files are written, atomically, under ``__staging/``;
2. its commit record ``__units/<unit>.json`` is written: the unit is now committed;
3. the files are moved to ``data/`` and ``__errors/`` (published).

A reader listing ``data/`` therefore sees committed, complete files only. A crash
between 2 and 3 is finished by the next run, which also skips committed units
(resume).

OUTPUT is laid out so that the readers' own discovery finds the data rows and nothing
else: ``datasets.load_dataset(OUTPUT)`` and ``pyarrow.dataset.dataset(OUTPUT)``. A data
file is ``data/<split>-<16 hex digits>.parquet``: the split first (Hugging Face's
split-in-file-name convention), then a digest of the unit's name, which can hold no
other split keyword (a unit such as ``data__train-00003-of-01357-00000`` would match
Hugging Face's sharded pattern and make an invalid split name, or match two patterns
of one split and be read twice). Everything else starts with ``_`` (pyarrow skips
``.`` and ``_``), and every folder of it with ``__`` (Hugging Face skips hidden and
``__`` folders, not ``_`` ones).

``_vidray_run.json`` fingerprints the command that owns OUTPUT: another command is
refused unless asked to overwrite. ``_SUCCESS`` is written last, when every
unit is committed, and lists every file of the output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import re
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vidray.io import storage
from vidray.records import UnitResult
from vidray.schema import (
    CLIP_COLUMNS,
    CLIP_SCHEMA,
    ERROR_SCHEMA,
    LAYOUTS,
    OUTPUT_SCHEMA,
    SCHEMA_VERSION,
    layout_of,
)

DATA_DIR = "data"
ERRORS_DIR = "__errors"
MARKER = "_SUCCESS"
UNITS_DIR = "__units"
STAGING_DIR = "__staging"
RUN_FILE = "_vidray_run.json"
#: Where unit layout 2 and earlier kept errors, unit records and staging.
LEGACY_DIRS = ("errors", "_units", "_staging")
#: Hugging Face's split names; a data file's name starts with one of them.
HF_SPLITS = ("train", "validation", "test")


class OutputConflict(Exception):
    """OUTPUT belongs to another command (or to no vidray command)."""


#: How units are cut and files named. 2: a unit is not cut between samples of one
#: video (0.2). 3: ``data/<split>-<digest>.parquet``, ``__errors/``, ``__units/``,
#: ``__staging/`` (OUTPUT loads with Hugging Face ``datasets`` and pyarrow as it is).
#: An earlier layout's committed units cannot be resumed by this one.
UNIT_LAYOUT = 3
#: A data file's row group closes at this many rows, or once its rows hold this many
#: bytes of frames: a unit is written as it is produced, never held whole.
ROW_GROUP_ROWS = 256
ROW_GROUP_BYTES = 64 * 2**20


def unit_name(shard: str, index: int) -> str:
    """``data/train-00001.parquet``, 3 -> ``data__train-00001-00003``."""
    stem = shard.rsplit(".", 1)[0] if "." in posixpath.basename(shard) else shard
    return f"{stem.replace('/', '__')}-{index:05d}"


def hf_split(split: str | None) -> str:
    """The Hugging Face split name of a dataset split, for data file names: ``test``
    for a test split (``test``, ``mc-test``, ``direct-test``), ``validation`` for a
    validation one (``val``, ``validation``, ``dev``, ``val_2``, ``indirect-val``),
    else ``train`` (``train``, ``pretrain``, ``hd``, ``long``; sources without splits)."""
    words = set(re.split(r"[^a-z]+", (split or "train").lower()))
    if words & {"test", "testing", "eval", "evaluation"}:
        return "test"
    if words & {"val", "valid", "validation", "dev"}:
        return "validation"
    return "train"


def data_file_name(unit: str, split: str) -> str:
    """``data/<split>-<digest>.parquet``: the split in Hugging Face's vocabulary, then 16
    hex digits of sha256 of the unit's name (hex holds no split keyword: the name
    matches exactly one of Hugging Face's patterns, once)."""
    if split not in HF_SPLITS:
        raise ValueError(f"split must be one of {HF_SPLITS}, got {split!r}")
    return f"{DATA_DIR}/{split}-{hashlib.sha256(unit.encode()).hexdigest()[:16]}.parquet"


def error_file_name(unit: str) -> str:
    return f"{ERRORS_DIR}/{unit}.parquet"


def clip_id(row: dict[str, Any]) -> str:
    """``<source>:<video>``, or ``<source>:<video>@<start>-<end>`` for a span (bounds to
    the millisecond, trailing zeros dropped, as in the sources' ids)."""
    base = f"{row['source']}:{row['video']}"
    if row.get("clip_start") is None and row.get("clip_end") is None:
        return base
    return f"{base}@{_fmt_time(row.get('clip_start'))}-{_fmt_time(row.get('clip_end'))}"


def _fmt_time(t: float | None) -> str:
    return "end" if t is None else f"{t:.3f}".rstrip("0").rstrip(".")


def _same_clip(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two rows show the same clip: every clip column equal (the rows of one
    sample share one list of frames, so the frames usually compare by identity)."""
    if not (a["frames"] is b["frames"] or a["frames"] == b["frames"]):
        return False
    return all(a.get(c) == b.get(c) for c in CLIP_COLUMNS if c != "frames")


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
        self._pending: list[dict[str, Any]] = []
        self._pending_bytes = 0
        self._errors: list[dict[str, Any]] = []
        self._open = contextlib.ExitStack()  # the staged data file, once rows come
        self._writer: pq.ParquetWriter | None = None
        self._clip: dict[str, Any] | None = None  # the clip whose rows are arriving
        self.rows = self.frames = self.clips = 0

    def add(self, row: dict[str, Any]) -> None:
        self.rows += 1
        self.frames += len(row["frames"])
        same = self._clip is not None and _same_clip(self._clip, row)
        if not same:
            self.clips += 1
        if self.layout == "rows":
            self._clip = row
            self._queue(row)
            return
        question = {"id": row["id"], "conversations": row["conversations"], "query": row["query"]}
        if same:
            assert self._clip is not None
            self._clip["questions"].append(question)
            return
        self._close_clip()
        shared = {c: row.get(c) for c in CLIP_COLUMNS}
        self._clip = {"clip_id": clip_id(row), **shared, "questions": [question]}

    def _close_clip(self) -> None:
        if self.layout == "clips" and self._clip is not None:
            self._queue(self._clip)
        self._clip = None

    def _queue(self, record: dict[str, Any]) -> None:
        self._pending.append(record)
        self._pending_bytes += sum(len(f) for f in record["frames"])
        if len(self._pending) >= ROW_GROUP_ROWS or self._pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def add_error(self, row: dict[str, Any]) -> None:
        self._errors.append(row)

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_pylist(self._pending, schema=self.schema)
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
            clips=self.clips,
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
    split: str = "train",
    layout: str = "rows",
) -> UnitResult:
    """Stage, commit and publish one unit from rows at hand (``UnitWriter`` in one go)."""
    writer = UnitWriter(out, unit, shard, index, last, split=split, layout=layout)
    for row in rows:
        writer.add(row)
    for error in errors:
        writer.add_error(error)
    return writer.commit(samples)


def publish(out: storage.Location, result: UnitResult) -> None:
    """Move a committed unit's staged files into place; idempotent. An error file the
    unit no longer has (a retry fixed its samples) is removed; a stale data file is
    left to ``commit``, which removes every file no committed unit owns."""
    for file in (result.data_file, result.error_file):
        if file and storage.exists(out, f"{STAGING_DIR}/{file}"):
            storage.move(out, f"{STAGING_DIR}/{file}", file)
    if not result.error_file:
        storage.remove(out, error_file_name(result.unit))


def committed_units(out: storage.Location) -> dict[str, UnitResult]:
    """The commit records of OUTPUT's units (those of an OUTPUT of unit layout 2 too,
    which kept them in ``_units/``: it is read, never resumed)."""
    folder = UNITS_DIR
    if not storage.exists(out, UNITS_DIR) and storage.exists(out, "_units"):
        folder = "_units"
    records = storage.list_files(out, (".json",), folder)
    units = (UnitResult.from_json(_json(out, rel)) for rel in records)
    return {r.unit: r for r in units}


def committed_data_files(out: storage.Location) -> list[str]:
    """Relative paths of the committed data files of OUTPUT, sorted: the ``data_files``
    of ``_SUCCESS`` when the output is complete, else those of the units committed so
    far (``__units/*.json``) that are already in ``data/``. A unit between its commit
    record and its move out of ``__staging/`` (a moment, or until the next run after a
    crash) is not listed yet; a file no record names (a unit in progress) never is. A
    reader that reads these files reads exactly committed rows, while a job writes."""
    if storage.exists(out, MARKER):
        return sorted(read_manifest(out)["data_files"])
    named = {r.data_file for r in committed_units(out).values() if r.data_file}
    published = set(storage.list_files(out, (".parquet",), DATA_DIR))
    return sorted(named & published)


def committed_error_files(out: storage.Location) -> list[str]:
    """As ``committed_data_files``, for the error files."""
    if storage.exists(out, MARKER):
        return sorted(read_manifest(out)["error_files"])
    named = {r.error_file for r in committed_units(out).values() if r.error_file}
    return sorted(f for f in named if storage.exists(out, f))


def failed_samples(
    out: storage.Location, committed: dict[str, UnitResult]
) -> dict[str, tuple[str, ...]]:
    """Unit name -> ids of its samples recorded in its error file (``__errors/``)."""
    failed = {}
    for unit, r in committed.items():
        if r.error_file:
            with storage.open_read(out, r.error_file) as f:
                failed[unit] = tuple(pq.read_table(f, columns=["id"]).column("id").to_pylist())
    return failed


def read_unit_rows(out: storage.Location, unit: str) -> list[dict[str, Any]]:
    """The committed data rows of ``unit``, one per question in either layout (none if
    the unit is not committed or has no data file)."""
    record = f"{UNITS_DIR}/{unit}.json"
    if not storage.exists(out, record):
        return []
    rel = UnitResult.from_json(_json(out, record)).data_file
    if not rel or not storage.exists(out, rel):
        return []
    return read_data_file(out, rel).to_pylist()


def read_data_file(out: storage.Location, rel: str, *, flat: bool = True) -> pa.Table:
    """One data file of OUTPUT: ``OUTPUT_SCHEMA`` rows, one per question, whatever its
    layout (``flat=False``: as stored, ``CLIP_SCHEMA`` for a file of the clips layout)."""
    with storage.open_read(out, rel) as f:
        pf = pq.ParquetFile(f)
        if layout_of(pf.schema_arrow) == "clips":
            table = pf.read().cast(CLIP_SCHEMA)
            return flatten_clips(table) if flat else table
    with storage.open_read(out, rel) as f:
        return pq.read_table(f, schema=OUTPUT_SCHEMA)


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
        owned = (DATA_DIR, ERRORS_DIR, UNITS_DIR, MARKER, *LEGACY_DIRS)
        if any(storage.exists(out, rel) for rel in owned):
            raise OutputConflict(
                f"{out.display()} already holds output that no vidray command claims; "
                "pass --overwrite to replace it"
            )
        return {}
    check_layout(out)
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
        for rel in LEGACY_DIRS:  # an OUTPUT of an earlier unit layout
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
    layout = info.get("layout", "rows")
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
        "layout": layout,
        "unit_layout": UNIT_LAYOUT,
        "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": {
            "samples": sum(r.samples for r in results),
            "rows": sum(r.rows for r in results),
            "clips": sum(r.clips for r in results),
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
        raise ValueError(f"{out.display()} mixes data files of both layouts")
    return pa.concat_tables(tables)
