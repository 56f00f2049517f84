# ruff: noqa: F401  (the package re-exports its modules' public names)
"""OUTPUT: how vidray writes, commits and reads it, a module per concern.

    names      where everything lives (file names, folders), its small JSON files
    rows       the typed rows (OutputRow, ClipRow, ErrorRow) and their Arrow form
    writer     UnitWriter: a unit's files staged as rows arrive, committed, published
    manifests  shard manifests, totals, queries over the committed units' records
    ledger     Ledger: the driver's account of committed units, compacting shards
    commit     claiming OUTPUT for a command, resuming, ``_SUCCESS``
    read       the one reader of committed files (read_output, report, export,
               VidrayReader, retries)

This package re-exports their public names.
"""

from __future__ import annotations

from vidray.output.commit import (
    OutputConflict,
    begin,
    check_layout,
    claimed_units,
    commit,
    complete_manifest,
)
from vidray.output.ledger import Ledger
from vidray.output.manifests import (
    ShardEntry,
    Totals,
    committed_count,
    committed_data_files,
    committed_error_files,
    committed_records,
    committed_units,
    shard_records,
    unit_record,
)
from vidray.output.names import (
    DATA_DIR,
    ERRORS_DIR,
    HF_SPLITS,
    LEGACY_DIRS,
    MARKER,
    RESUMABLE_LAYOUTS,
    RUN_FILE,
    SHARDS_DIR,
    STAGING_DIR,
    UNIT_LAYOUT,
    UNITS_DIR,
    OutputError,
    data_file_name,
    error_file_name,
    fingerprint,
    hf_split,
    read_json,
    read_manifest,
    read_run,
    shard_manifest_name,
    unit_name,
    write_json,
)
from vidray.output.read import (
    DataFile,
    data_files,
    dataset_split,
    failed_samples,
    iter_rows,
    open_data_file,
    read_data_file,
    read_output,
    read_unit_rows,
)
from vidray.output.rows import (
    ClipRow,
    ErrorRow,
    OutputRow,
    Question,
    clip_id,
    flatten_clips,
    to_table,
)
from vidray.output.writer import ROW_GROUP_BYTES, ROW_GROUP_ROWS, UnitWriter, publish
from vidray.records import UnitResult
