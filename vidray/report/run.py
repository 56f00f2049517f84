"""``report``: read OUTPUT once and write ``DEST/index.html``, atomically."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from vidray.report.page import render
from vidray.report.tally import _error_files, _units, read_errors, tally_rows

DEFAULT_DEST = "vidray-report"
PAGE = "index.html"


class ReportError(Exception):
    """The report cannot be made; the message is one line."""


def report(output: str, dest: str | None = None) -> Path:
    """Write ``DEST/index.html`` for OUTPUT; returns its path. Raises ReportError,
    OutputError or StorageError with a one-line message."""
    from vidray.io import storage
    from vidray.output import read

    target = Path((dest or DEFAULT_DEST).removeprefix("file://"))
    if "://" in str(dest or ""):
        raise ReportError(f"DEST must be a local directory: {dest}")
    target = target.resolve()
    storage.check_folder(storage.location(str(target)), "DEST", write=True)
    out = storage.location(output)
    storage.check_reachable(out)
    if out.scheme == "file" and not os.path.isdir(out.path):
        raise ReportError(f"{out.display()} does not exist")
    files, manifest = read.data_files(out, warn=True)
    source = (manifest or {}).get("source")
    if source is None and files:
        source = (read.first_row(out, files) or {}).get("source")
    rows = read.iter_rows(out, files)
    split = read.dataset_split(out, manifest, source) if source else "?"
    tally = tally_rows(rows, split)
    errors = read_errors(out, _error_files(out))
    page = render(output=out.display(), manifest=manifest, tally=tally, errors=errors,
                  units=_units(out))  # fmt: skip
    target.mkdir(parents=True, exist_ok=True)
    path = target / PAGE
    tmp = path.with_name(f".{PAGE}.tmp-{uuid.uuid4().hex}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
