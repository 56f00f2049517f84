"""Claiming OUTPUT for a command, resuming it, and committing a run: ``_SUCCESS``.

``_vidray_run.json`` fingerprints the command that owns OUTPUT: another command is
refused unless asked to overwrite. ``_SUCCESS`` is written last, when every unit is
committed: the counts, and the shards with their manifests by reference.
"""

from __future__ import annotations

import hashlib
import json
import time
from array import array
from collections.abc import Iterable
from typing import Any

from vidray.config import LOCATION_OPTIONS
from vidray.io import storage
from vidray.output.ledger import Ledger
from vidray.output.manifests import _manifest_lines
from vidray.output.names import (
    DATA_DIR,
    ERRORS_DIR,
    LEGACY_DIRS,
    MARKER,
    RESUMABLE_LAYOUTS,
    RUN_FILE,
    SHARDS_DIR,
    STAGING_DIR,
    UNIT_LAYOUT,
    UNITS_DIR,
    fingerprint,
    read_json,
    read_manifest,
    shard_manifest_name,
    write_json,
)
from vidray.output.writer import publish
from vidray.records import UnitResult
from vidray.schema import SCHEMA_VERSION


class OutputConflict(Exception):
    """OUTPUT belongs to another command (or to no vidray command)."""


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
    previous = read_json(out, RUN_FILE) if storage.exists(out, RUN_FILE) else None
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
    run = read_json(out, RUN_FILE) if storage.exists(out, RUN_FILE) else {}
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
    if differing_options(read_json(out, RUN_FILE), options):
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
    run = read_json(out, RUN_FILE) if storage.exists(out, RUN_FILE) else {}
    if run.get("layout") != UNIT_LAYOUT:
        run = {"fingerprint": fingerprint(options), "options": options, "layout": UNIT_LAYOUT}
        write_json(out, RUN_FILE, run)
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
    write_json(out, MARKER, manifest)
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
