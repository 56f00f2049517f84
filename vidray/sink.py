"""The Parquet sink and its commit protocol.

A unit is a run of consecutive samples of one input shard; its files are named after
the shard and the unit's position in it, so the same input always maps to the same
file names. A unit is written in three steps:

1. its data and error files are written, atomically, under ``__staging/``;
2. its commit record ``__units/<unit>.json`` is written: the unit is now committed;
3. the files are moved to ``data/`` and ``__errors/`` (published).

A reader listing ``data/`` therefore sees committed, complete files only. A crash
between 2 and 3 is finished by the next run, which also skips committed units
(resume). Once every unit of a shard is committed, the driver (``Ledger``) writes the
shard's manifest ``__shards/<digest>.jsonl`` with their records and removes them from
``__units/``: resuming, committing and the driver's memory grow with the shards, not
the units.

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
unit is committed: the counts, and the shards with their manifests by reference.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import re
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vidray.config import LOCATION_OPTIONS
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
SHARDS_DIR = "__shards"
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
#: 4: units cut as in 3; a finished shard's unit records are compacted into one
#: manifest ``__shards/<digest>.json``, and ``_SUCCESS`` lists shards, not files.
#: Layouts 3 and 4 are resumed; an earlier layout's units are read, never resumed.
UNIT_LAYOUT = 4
RESUMABLE_LAYOUTS = (3, 4)
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
    return json.loads(out.fs.cat_file(out.join(rel)))  # one request: no HEAD first


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


def shard_manifest_name(shard: str) -> str:
    """``__shards/<16 hex digits>.jsonl``: sha256 of the shard's name, so any shard
    (nested paths, the empty name of units written without one) names one flat file.

    A manifest is JSON Lines: first the shard's summary (``shard``, ``complete``,
    ``last``, ``totals``), then one line per unit, its commit record. Resuming reads
    the first line only."""
    return f"{SHARDS_DIR}/{hashlib.sha256(shard.encode()).hexdigest()[:16]}.jsonl"


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _write_manifest(
    out: storage.Location, shard: str, summary: dict[str, Any], records: list[UnitResult]
) -> None:
    lines = [_compact_json({"shard": shard, **summary})]
    lines += [_compact_json(r.to_json()) for r in records]
    body = b"\n".join(lines) + b"\n"
    storage.write_atomic(out, shard_manifest_name(shard), lambda f: f.write(body))


#: Bytes read first for a manifest's summary line (read again, larger, if it is longer).
_HEAD_BYTES = 16 * 2**10


def _manifest_heads(out: storage.Location, rels: list[str]) -> Iterator[tuple[str, dict]]:
    """Each shard manifest's summary, read by small ranged requests (concurrent on
    S3), not the whole files."""
    for rel, head in storage.read_many(out, rels, end=_HEAD_BYTES):
        size = _HEAD_BYTES
        while b"\n" not in head and len(head) == size:  # a summary longer than that
            size *= 4
            head = out.fs.cat_file(out.join(rel), start=0, end=size)
        yield rel, json.loads(head.split(b"\n", 1)[0])


def _manifest_lines(out: storage.Location, rels: list[str]) -> Iterator[tuple[str, list[bytes]]]:
    """Each shard manifest's shard and its units' records as JSON lines, a few
    manifests at a time (read concurrently on S3)."""
    for _, body in storage.read_many(out, rels, batch=8):
        head, *lines = body.splitlines()
        yield json.loads(head)["shard"], [line for line in lines if line]


def _units_of(lines: list[bytes]) -> dict[str, UnitResult]:
    records = (UnitResult.from_json(json.loads(line)) for line in lines)
    return {r.unit: r for r in records}


def _manifest_units(out: storage.Location, rel: str) -> dict[str, UnitResult]:
    """The records of one shard manifest by unit name."""
    return _units_of(next(_manifest_lines(out, [rel]))[1])


def shard_records(out: storage.Location, shard: str) -> dict[str, UnitResult]:
    """The records in ``shard``'s manifest (none if it has none), by unit name."""
    rel = shard_manifest_name(shard)
    return _manifest_units(out, rel) if storage.exists(out, rel) else {}


_COUNTERS = ("errors", "decoders", "cpu_reasons", "groups")


@dataclass
class Totals:
    """Running counts over units: what ``_SUCCESS`` and a shard manifest record."""

    samples: int = 0
    rows: int = 0
    clips: int = 0
    frames: int = 0
    units: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    decoders: Counter[str] = field(default_factory=Counter)
    cpu_reasons: Counter[str] = field(default_factory=Counter)
    groups: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, results: Iterable[UnitResult]) -> Totals:
        totals = cls()
        for r in results:
            totals.add(r)
        return totals

    def add(self, r: UnitResult) -> None:
        """Count one more unit."""
        self.samples += r.samples
        self.rows += r.rows
        self.clips += r.clips
        self.frames += r.frames
        self.units += 1
        for key in _COUNTERS:
            getattr(self, key).update(getattr(r, key))

    def merge(self, other: Totals, sign: int = 1) -> None:
        """Add ``other`` (``sign`` -1: take it away, as a shard reopened for a retry)."""
        for key in ("samples", "rows", "clips", "frames", "units"):
            setattr(self, key, getattr(self, key) + sign * getattr(other, key))
        for key in _COUNTERS:
            mine = getattr(self, key)
            mine.update({k: sign * v for k, v in getattr(other, key).items()})
            setattr(self, key, Counter({k: v for k, v in mine.items() if v}))

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {k: getattr(self, k) for k in ("samples", "rows", "clips", "frames")}
        d["errors"] = sum(self.errors.values())
        d["errors_by_reason"] = dict(sorted(self.errors.items()))
        d["units"] = self.units
        for key in _COUNTERS[1:]:
            d[key] = dict(sorted(getattr(self, key).items()))
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Totals:
        counters = {k: Counter(d.get(k, {})) for k in _COUNTERS[1:]}
        scalars = {k: d[k] for k in ("samples", "rows", "clips", "frames", "units")}
        return cls(**scalars, errors=Counter(d["errors_by_reason"]), **counters)


def _last_index(records: Iterable[UnitResult]) -> int | None:
    return next((r.index for r in records if r.last), None)


def _shard_done(records: Iterable[UnitResult]) -> range | frozenset[int]:
    """The unit indices a shard's records cover: ``range(last + 1)`` when they are all
    there (one small object however many units), else the indices themselves."""
    records = list(records)
    indices = frozenset(r.index for r in records)
    last = _last_index(records)
    if last is not None and indices.issuperset(range(last + 1)):
        return range(last + 1)
    return indices


@dataclass(frozen=True)
class ShardEntry:
    """A compacted shard as the driver keeps it: its records stay in its manifest."""

    done: range | frozenset[int]
    samples: int
    units: int


def _unit_records(out: storage.Location) -> Iterator[UnitResult]:
    """The records in ``__units/`` (``_units/`` in an OUTPUT of unit layout 2). A record
    removed while this reads (its shard compacted meanwhile) is skipped."""
    rels = storage.list_files(out, (".json",), UNITS_DIR)
    rels = rels or storage.list_files(out, (".json",), "_units")
    for _, body in storage.read_many(out, rels, missing_ok=True):
        yield UnitResult.from_json(json.loads(body))


def _open_records(out: storage.Location) -> dict[str, dict[str, UnitResult]]:
    """Shard -> unit -> record, of the units in ``__units/``."""
    by_shard: dict[str, dict[str, UnitResult]] = {}
    for r in _unit_records(out):
        by_shard.setdefault(r.shard, {})[r.unit] = r
    return by_shard


def _manifests(out: storage.Location) -> list[str]:
    """The shard manifests of OUTPUT."""
    return storage.list_files(out, (".jsonl",), SHARDS_DIR)


def _records(out: storage.Location) -> Iterator[tuple[UnitResult, bool]]:
    """Every committed unit's record, a shard at a time, and whether it comes from a
    shard manifest (whose files are published: a shard is compacted after its units
    are). A record in ``__units/`` overrides its shard manifest's (a unit retried since,
    or a compaction cut short). ``__units/`` is read before ``__shards/``: a shard
    compacted in between is found in its manifest."""
    open_records = _open_records(out)
    for shard, lines in _manifest_lines(out, _manifests(out)):
        newer = open_records.pop(shard, {})
        for unit, r in _units_of(lines).items():
            if unit not in newer:
                yield r, True
        for r in newer.values():
            yield r, False
    for records in open_records.values():
        for r in records.values():
            yield r, False


def committed_records(out: storage.Location) -> Iterator[UnitResult]:
    """The commit records of OUTPUT's units, streamed a shard at a time: the shard
    manifests (``__shards/``) and the records of units not compacted yet (``__units/``;
    those of an OUTPUT of unit layout 3 or 2, which kept every unit there or in
    ``_units/``, too)."""
    return (r for r, _ in _records(out))


def committed_units(out: storage.Location) -> dict[str, UnitResult]:
    """Unit name -> commit record, of every committed unit (all of them in memory: for
    a report's chart or a test; ``committed_records`` streams them)."""
    return {r.unit: r for r in committed_records(out)}


def committed_count(out: storage.Location) -> int:
    """How many units OUTPUT holds committed, while a job writes it or after: the
    manifests' summary lines and the records in ``__units/`` (a shard that has both is
    read whole, to count a unit in both once)."""
    open_records = _open_records(out)
    count = 0
    for rel, head in _manifest_heads(out, _manifests(out)):
        newer = open_records.pop(head["shard"], None)
        if newer is None:
            count += head["totals"]["units"]
        else:
            count += len({**_manifest_units(out, rel), **newer})
    return count + sum(len(records) for records in open_records.values())


def committed_data_files(out: storage.Location) -> list[str]:
    """Relative paths of the committed data files of OUTPUT, sorted: those of the
    shard manifests, and of the units committed since (``__units/*.json``) that are
    already in ``data/`` (an OUTPUT of unit layout 3 or earlier: the ``data_files`` of
    its ``_SUCCESS``). A unit between its commit record and its move out of
    ``__staging/`` (a moment, or until the next run after a crash) is not listed yet;
    a file no record names (a unit in progress) never is. A reader that reads these
    files reads exactly committed rows, while a job writes."""
    return _committed_files(out, "data_file")


def committed_error_files(out: storage.Location) -> list[str]:
    """As ``committed_data_files``, for the error files."""
    return _committed_files(out, "error_file")


def _committed_files(out: storage.Location, kind: str) -> list[str]:
    if storage.exists(out, MARKER):
        listed = read_manifest(out).get(f"{kind}s")  # unit layout 3 and earlier
        if listed is not None:
            return sorted(listed)
    files = []
    for r, published in _records(out):
        rel = getattr(r, kind)
        if rel and (published or storage.exists(out, rel)):
            files.append(rel)
    return sorted(files)


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


def unit_record(out: storage.Location, unit: str, shard: str | None = None) -> UnitResult | None:
    """A committed unit's record: ``__units/<unit>.json``, else in the manifest of
    ``shard`` when it is given; None for a unit not committed."""
    record = f"{UNITS_DIR}/{unit}.json"
    if storage.exists(out, record):
        return UnitResult.from_json(_json(out, record))
    return None if shard is None else shard_records(out, shard).get(unit)


def read_unit_rows(
    out: storage.Location, unit: str, shard: str | None = None
) -> list[dict[str, Any]]:
    """The committed data rows of ``unit`` (of ``shard``: its record may be in the
    shard's manifest), one per question in either layout (none if the unit is not
    committed or has no data file)."""
    r = unit_record(out, unit, shard)
    if r is None or not r.data_file or not storage.exists(out, r.data_file):
        return []
    return read_data_file(out, r.data_file).to_pylist()


class Ledger:
    """The driver's account of the committed units, in memory that grows with the
    shards, not the units: a compacted shard is one ``ShardEntry`` (its records are in
    its manifest ``__shards/<digest>.json``, its counts in ``totals``), and only the
    shards still open hold their units' records.

    ``add`` books a unit as its result comes back; once every unit of its shard is
    there (indices 0 to that of the unit marked ``last``, and any unit a retry
    redoes) the shard is compacted: its manifest is written, then its units' records
    in ``__units/`` are removed. ``finish`` compacts the shards left open."""

    def __init__(self, out: storage.Location) -> None:
        self.out = out
        self.closed: dict[str, ShardEntry] = {}
        #: Counts of the compacted shards.
        self.totals = Totals()
        self.open: dict[str, dict[str, UnitResult]] = {}
        #: Open shard -> index of its last unit, once known.
        self._last: dict[str, int] = {}
        self._waiting: dict[str, set[int]] = {}
        #: Units booked by ``add`` in open shards, and shards it compacted: a unit
        #: booked twice is a bug, never a retry.
        self._booked: dict[str, set[str]] = {}
        self._compacted: set[str] = set()

    @classmethod
    def load(cls, out: storage.Location) -> Ledger:
        """What OUTPUT holds committed: its shard manifests, and the records of the
        units committed since (a shard whose manifest a unit record overrides is
        reopened, to be compacted again)."""
        ledger = cls(out)
        ledger.open = _open_records(out)
        for rel, head in _manifest_heads(out, _manifests(out)):
            shard = head["shard"]
            if shard in ledger.open or not head["complete"]:
                records = _manifest_units(out, rel)
                ledger.open[shard] = {**records, **ledger.open.get(shard, {})}
                continue
            totals = Totals.from_json(head["totals"])
            ledger.closed[shard] = ShardEntry(range(head["last"] + 1), totals.samples, totals.units)
            ledger.totals.merge(totals)
        for shard, records in ledger.open.items():
            ledger._note_last(shard, records.values())
        return ledger

    def _note_last(self, shard: str, records: Iterable[UnitResult]) -> None:
        last = _last_index(records)
        if last is not None:
            self._last[shard] = last

    # --------------------------------------------------------------- planning

    def progress(self, shard: str) -> tuple[range | frozenset[int], int | None]:
        """The unit indices of ``shard`` committed, and that of its last unit if known."""
        entry = self.closed.get(shard)
        if entry is not None:
            done = entry.done
            return done, done[-1] if isinstance(done, range) else None
        records = self.open.get(shard, {}).values()
        return frozenset(r.index for r in records), _last_index(records)

    @property
    def units(self) -> int:
        return self.totals.units + sum(len(records) for records in self.open.values())

    @property
    def samples(self) -> int:
        return self.samples_outside(set())

    def samples_outside(self, shards: set[str]) -> int:
        """Committed samples of the shards not in ``shards``."""
        closed = sum(e.samples for s, e in self.closed.items() if s not in shards)
        return closed + sum(
            r.samples
            for s, records in self.open.items()
            if s not in shards
            for r in records.values()
        )

    def open_records(self) -> Iterator[UnitResult]:
        for records in self.open.values():
            yield from records.values()

    def expect(self, redo: dict[str, dict[int, tuple[str, ...]]]) -> None:
        """Units a retry redoes: their shards are compacted only once they are back."""
        self._waiting = {shard: set(units) for shard, units in redo.items() if units}

    # ---------------------------------------------------------------- booking

    def book(self, results: Iterable[UnitResult]) -> Ledger:
        for r in results:
            self.add(r)
        return self

    def add(self, r: UnitResult) -> None:
        """Book a committed unit; its shard is compacted once it is complete."""
        booked = self._booked.setdefault(r.shard, set())
        if r.shard in self._compacted or r.unit in booked:
            raise RuntimeError(f"unit written more than once: {r.unit}")
        booked.add(r.unit)
        if r.shard in self.closed:
            self._reopen(r.shard)
        self.open.setdefault(r.shard, {})[r.unit] = r
        if r.last:
            self._last[r.shard] = r.index
        self._waiting.get(r.shard, set()).discard(r.index)
        if self._complete(r.shard):
            self.close(r.shard)

    def _complete(self, shard: str) -> bool:
        """Whether every unit of open ``shard`` is in (checked in full only once there
        are as many units as its last one's index says, so booking a unit is O(1))."""
        last = self._last.get(shard)
        if last is None or self._waiting.get(shard) or len(self.open[shard]) <= last:
            return False
        return isinstance(_shard_done(self.open[shard].values()), range)

    def _reopen(self, shard: str) -> None:
        (_, head), *_ = _manifest_heads(self.out, [shard_manifest_name(shard)])
        del self.closed[shard]
        self.totals.merge(Totals.from_json(head["totals"]), -1)
        self.open[shard] = shard_records(self.out, shard)
        self._note_last(shard, self.open[shard].values())

    def close(self, shard: str) -> None:
        """Compact ``shard``: write its manifest, then drop its units' records."""
        records = sorted(self.open.pop(shard).values(), key=lambda r: (r.index, r.unit))
        self._last.pop(shard, None)
        self._waiting.pop(shard, None)
        if self._booked.pop(shard, None):
            self._compacted.add(shard)
        totals = Totals.of(records)
        done = _shard_done(records)
        summary = {
            "complete": isinstance(done, range),
            "last": _last_index(records),
            "totals": totals.to_json(),
        }
        _write_manifest(self.out, shard, summary, records)
        storage.remove_existing(self.out, [f"{UNITS_DIR}/{r.unit}.json" for r in records])
        self.closed[shard] = ShardEntry(done, totals.samples, totals.units)
        self.totals.merge(totals)

    def finish(self) -> None:
        """Compact every shard still open (all its units are committed: the run is over)."""
        for shard in list(self.open):
            self.close(shard)

    def shards(self) -> list[dict[str, Any]]:
        """The compacted shards, by reference: what ``_SUCCESS`` lists."""
        return [
            {"shard": s, "manifest": shard_manifest_name(s), "units": e.units, "samples": e.samples}
            for s, e in sorted(self.closed.items())
        ]


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


def differing_options(previous: dict[str, Any], options: dict[str, Any]) -> list[str]:
    """The options in which the command recorded in ``previous`` (a ``RUN_FILE``)
    differs from ``options``; none when the fingerprints match. Places are compared by
    where they are: a run file of an earlier vidray recorded them as typed (a relative
    one is taken from the current directory)."""
    if previous.get("fingerprint") == fingerprint(options):
        return []
    old = previous.get("options", {})

    def value(options: dict[str, Any], key: str) -> Any:
        v = options.get(key)
        return storage.identity(v) if key in LOCATION_OPTIONS and isinstance(v, str) else v

    return sorted(k for k in {*old, *options} if value(old, k) != value(options, k))


def claimed_units(
    out: storage.Location, options: dict[str, Any], *, overwrite: bool = False
) -> Ledger:
    """Whether the command described by ``options`` may write OUTPUT, read-only: the
    units an earlier run of the same command committed (they are not redone), or
    ``OutputConflict`` when OUTPUT belongs to another command (or to none)."""
    if overwrite:
        return Ledger(out)
    previous = _json(out, RUN_FILE) if storage.exists(out, RUN_FILE) else None
    if previous is None:
        owned = (DATA_DIR, ERRORS_DIR, UNITS_DIR, SHARDS_DIR, MARKER, *LEGACY_DIRS)
        if any(storage.exists(out, rel) for rel in owned):
            raise OutputConflict(
                f"{out.display()} already holds output that no vidray command claims; "
                "pass --overwrite to replace it"
            )
        return Ledger(out)
    check_layout(out)
    changed = differing_options(previous, options)
    if changed:
        raise OutputConflict(
            f"{out.display()} holds the output of a different command "
            f"(differs in: {', '.join(changed)}); pass --overwrite to replace it"
        )
    return Ledger.load(out)


def check_layout(out: storage.Location) -> None:
    """Refuse to resume units that an earlier vidray cut by other rules: resuming them
    would drop or repeat samples at the old units' edges. Layout 3 cut units as this
    one does (it only kept every unit's record in ``__units/``): it is resumed, and its
    records compacted as its shards finish."""
    run = _json(out, RUN_FILE) if storage.exists(out, RUN_FILE) else {}
    layout = run.get("layout", 1)
    if layout not in RESUMABLE_LAYOUTS:
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
    if differing_options(_json(out, RUN_FILE), options):
        return None
    manifest = read_manifest(out)
    return manifest if manifest.get("inputs") == inputs else None


def begin(
    out: storage.Location,
    options: dict[str, Any],
    committed: Ledger | None = None,
    *,
    overwrite: bool = False,
) -> None:
    """Claim OUTPUT for the command described by ``options``, once ``claimed_units``
    allowed it: the first write of a run. An OUTPUT of unit layout 3 being resumed is
    recorded as layout 4 from here on."""
    if overwrite:
        for rel in (DATA_DIR, ERRORS_DIR, UNITS_DIR, SHARDS_DIR, STAGING_DIR, MARKER, RUN_FILE):
            storage.remove_tree(out, rel)
        for rel in LEGACY_DIRS:  # an OUTPUT of an earlier unit layout
            storage.remove_tree(out, rel)
    # While the run is under way no marker vouches for the whole output.
    storage.remove(out, MARKER)
    run = _json(out, RUN_FILE) if storage.exists(out, RUN_FILE) else {}
    if run.get("layout") != UNIT_LAYOUT:
        run = {"fingerprint": fingerprint(options), "options": options, "layout": UNIT_LAYOUT}
        _write_json(out, RUN_FILE, run)
    for result in committed.open_records() if committed else ():
        publish(out, result)  # finish publications a crash interrupted


def commit(
    out: storage.Location, results: Ledger | Iterable[UnitResult], info: dict[str, Any]
) -> dict[str, Any]:
    """Compact the shards left open, drop files and staging leftovers no committed
    unit owns, then write ``_SUCCESS``: the counts, and the shards with their
    manifests by reference (not every file). ``results``: the run's ledger, or the
    results of every unit to commit."""
    ledger = results if isinstance(results, Ledger) else Ledger(out).book(results)
    ledger.finish()
    storage.remove_tree(out, UNITS_DIR)
    _remove_unowned(out, ledger)
    storage.remove_tree(out, STAGING_DIR)
    manifest = {
        **info,
        "schema_version": SCHEMA_VERSION,
        "layout": info.get("layout", "rows"),
        "unit_layout": UNIT_LAYOUT,
        "committed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": {**ledger.totals.to_json(), "shards": len(ledger.closed)},
        "shards": ledger.shards(),
    }
    _write_json(out, MARKER, manifest)
    return manifest


def _file_key(rel: str) -> int:
    return int.from_bytes(hashlib.blake2b(rel.encode(), digest_size=8).digest(), "little")


def _remove_unowned(out: storage.Location, ledger: Ledger) -> None:
    """Remove the shard manifests, data and error files no committed unit owns. What
    the units own is read back from the ledger's shard manifests one at a time and
    held as 8-byte keys (a sorted array: 8 bytes a file, not the names); the folders
    are listed a page at a time. A key collision (odds 2**-64 per pair) could only
    keep a stale file."""
    import numpy as np

    manifests = {shard_manifest_name(shard) for shard in ledger.closed}
    for rel in storage.iter_files(out, (".jsonl",), SHARDS_DIR):
        if rel not in manifests:
            storage.remove(out, rel)
    keys = array("Q")
    for _, lines in _manifest_lines(out, sorted(manifests)):
        for line in lines:
            d = json.loads(line)
            keys.extend(_file_key(f) for f in (d["data_file"], d["error_file"]) if f)
    owned = np.sort(np.frombuffer(keys, dtype=np.uint64)) if keys else np.zeros(0, np.uint64)
    for sub in (DATA_DIR, ERRORS_DIR):
        for rel in storage.iter_files(out, (".parquet",), sub):
            key = np.uint64(_file_key(rel))
            at = int(np.searchsorted(owned, key))
            if at == len(owned) or owned[at] != key:
                storage.remove(out, rel)


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
