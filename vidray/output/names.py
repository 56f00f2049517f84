"""Where everything lives in an OUTPUT, and its small JSON files.

A unit is a run of consecutive samples of one input shard; its files are named after
the shard and the unit's position in it, so the same input always maps to the same
file names.

OUTPUT is laid out so that the readers' own discovery finds the data rows and nothing
else: ``datasets.load_dataset(OUTPUT)`` and ``pyarrow.dataset.dataset(OUTPUT)``. A data
file is ``data/<split>-<16 hex digits>.parquet``: the split first (Hugging Face's
split-in-file-name convention), then a digest of the unit's name, which can hold no
other split keyword (a unit such as ``data__train-00003-of-01357-00000`` would match
Hugging Face's sharded pattern and make an invalid split name, or match two patterns
of one split and be read twice). Everything else starts with ``_`` (pyarrow skips
``.`` and ``_``), and every folder of it with ``__`` (Hugging Face skips hidden and
``__`` folders, not ``_`` ones).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from typing import Any

from vidray.io import storage

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


class OutputError(ValueError):
    """A path is not a vidray OUTPUT, or a file of it is not what vidray wrote there
    (not Parquet, a column missing or of another type); the message is one line."""


#: How units are cut and files named. 2: a unit is not cut between samples of one
#: video (0.2). 3: ``data/<split>-<digest>.parquet``, ``__errors/``, ``__units/``,
#: ``__staging/`` (OUTPUT loads with Hugging Face ``datasets`` and pyarrow as it is).
#: 4: units cut as in 3; a finished shard's unit records are compacted into one
#: manifest ``__shards/<digest>.json``, and ``_SUCCESS`` lists shards, not files.
#: Layouts 3 and 4 are resumed; an earlier layout's units are read, never resumed.
UNIT_LAYOUT = 4
RESUMABLE_LAYOUTS = (3, 4)


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


def shard_manifest_name(shard: str) -> str:
    """``__shards/<16 hex digits>.jsonl``: sha256 of the shard's name, so any shard
    (nested paths, the empty name of units written without one) names one flat file.

    A manifest is JSON Lines: first the shard's summary (``shard``, ``complete``,
    ``last``, ``totals``), then one line per unit, its commit record. Resuming reads
    the first line only."""
    return f"{SHARDS_DIR}/{hashlib.sha256(shard.encode()).hexdigest()[:16]}.jsonl"


def fingerprint(options: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()


def read_json(out: storage.Location, rel: str) -> Any:
    return json.loads(out.fs.cat_file(out.join(rel)))  # one request: no HEAD first


def write_json(out: storage.Location, rel: str, value: Any) -> None:
    body = json.dumps(value, indent=2, sort_keys=True).encode()
    storage.write_atomic(out, rel, lambda f: f.write(body))


def read_manifest(out: storage.Location) -> dict[str, Any]:
    """OUTPUT's ``_SUCCESS``."""
    return read_json(out, MARKER)


def read_run(out: storage.Location) -> dict[str, Any] | None:
    """OUTPUT's ``_vidray_run.json`` (the command that owns it), None if it has none."""
    return read_json(out, RUN_FILE) if storage.exists(out, RUN_FILE) else None
