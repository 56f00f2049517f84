"""The driver's ledger of committed units: what a run claims, books and compacts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from vidray.io import storage
from vidray.output.manifests import (
    ShardEntry,
    Totals,
    _last_index,
    _manifest_heads,
    _manifest_units,
    _manifests,
    _open_records,
    _shard_done,
    _write_manifest,
    shard_records,
)
from vidray.output.names import UNITS_DIR, shard_manifest_name
from vidray.records import UnitResult


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
