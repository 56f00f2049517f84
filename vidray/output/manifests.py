"""Shard manifests, running totals and the queries over committed units' records.

Once every unit of a shard is committed, the driver (``ledger.Ledger``) writes the
shard's manifest ``__shards/<digest>.jsonl`` with their records and removes them from
``__units/``: resuming, committing and the driver's memory grow with the shards, not
the units.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vidray.io import storage
from vidray.output.names import (
    MARKER,
    SHARDS_DIR,
    UNITS_DIR,
    read_json,
    read_manifest,
    shard_manifest_name,
)
from vidray.records import UnitResult


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


def unit_record(out: storage.Location, unit: str, shard: str | None = None) -> UnitResult | None:
    """A committed unit's record: ``__units/<unit>.json``, else in the manifest of
    ``shard`` when it is given; None for a unit not committed."""
    record = f"{UNITS_DIR}/{unit}.json"
    if storage.exists(out, record):
        return UnitResult.from_json(read_json(out, record))
    return None if shard is None else shard_records(out, shard).get(unit)
