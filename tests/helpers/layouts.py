"""OUTPUT as an earlier vidray, or a run cut short, left it, made from a complete OUTPUT
of this one by moving its commit records where they were then."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from vidray import output as vout
from vidray.io import storage


def _write_records(out: Path, records: Iterable[vout.UnitResult]) -> None:
    (out / vout.UNITS_DIR).mkdir(exist_ok=True)
    for r in records:
        (out / vout.UNITS_DIR / f"{r.unit}.json").write_text(json.dumps(r.to_json()))


def to_layout_3(out: Path, *, complete: bool = True) -> None:
    """As unit layout 3 left OUTPUT: every unit's record in ``__units/``, no
    ``__shards/``, and (``complete``) a ``_SUCCESS`` that lists every file, else none."""
    loc = storage.location(str(out))
    records = sorted(vout.committed_records(loc), key=lambda r: r.unit)
    _write_records(out, records)
    shutil.rmtree(out / vout.SHARDS_DIR, ignore_errors=True)
    if (out / vout.RUN_FILE).exists():
        run = json.loads((out / vout.RUN_FILE).read_text())
        (out / vout.RUN_FILE).write_text(json.dumps({**run, "layout": 3}))
    marker = json.loads((out / vout.MARKER).read_text())
    (out / vout.MARKER).unlink()
    if not complete:
        return
    del marker["shards"], marker["counts"]["shards"]
    marker["unit_layout"] = 3
    marker["data_files"] = [r.data_file for r in records if r.data_file]
    marker["error_files"] = [r.error_file for r in records if r.error_file]
    (out / vout.MARKER).write_text(json.dumps(marker))


def reopen_shard(out: Path, shard: str, *, drop: Iterable[str] = ()) -> None:
    """As a run that died before it compacted ``shard`` leaves OUTPUT: no ``_SUCCESS``,
    the shard's manifest gone and its units' records in ``__units/``, except the units
    in ``drop``, which were never committed (no record, no published files)."""
    drop = set(drop)
    records = vout.shard_records(storage.location(str(out)), shard).values()
    (out / vout.shard_manifest_name(shard)).unlink()
    (out / vout.MARKER).unlink(missing_ok=True)
    _write_records(out, [r for r in records if r.unit not in drop])
    for r in records:
        if r.unit in drop:
            for rel in (r.data_file, r.error_file):
                if rel:
                    (out / rel).unlink()
