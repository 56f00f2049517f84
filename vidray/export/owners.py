"""Who wrote what in DEST: ``DEST/_vidray_export.json`` records the OUTPUT behind each
record file and ``dataset_info.json`` entry, so another OUTPUT's are refused unless
``--overwrite``; and ``dataset_info.json`` entries merged in, every other entry kept."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from vidray.export.errors import ExportError

DATASET_INFO = "dataset_info.json"
#: Which OUTPUT wrote each record file and ``dataset_info.json`` entry in DEST.
SIDECAR = "_vidray_export.json"


# --------------------------------------------------------------------------- dataset_info


def _read_json_object(path: Path, what: str) -> dict[str, Any] | None:
    """The JSON object in ``path`` (None when there is no file); ``what`` names it in
    the error for a file that is not one."""
    if not path.exists():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ExportError(f"{path}: cannot read it as JSON: {e}") from None
    if not isinstance(value, dict):
        raise ExportError(f"{path}: not {what}")
    return value


def _read_dataset_info(dest: Path) -> dict[str, Any]:
    return _read_json_object(dest / DATASET_INFO, "a JSON object of dataset entries") or {}


def _check_dataset_info(info: dict[str, Any], entries: dict[str, Any], overwrite: bool) -> None:
    clash = sorted(k for k, v in entries.items() if k in info and info[k] != v)
    if clash and not overwrite:
        raise ExportError(
            f"{DATASET_INFO} already has a different entry named {', '.join(clash)}; "
            "pass --overwrite to replace it, or --name to pick another name"
        )


def merge_dataset_info(dest: Path, entries: dict[str, Any], *, overwrite: bool) -> None:
    """Add ``entries`` to ``DEST/dataset_info.json``, keeping every other entry (and their
    order) as it was; replacing a different entry of the same name needs ``overwrite``."""
    info = _read_dataset_info(dest)
    _check_dataset_info(info, entries, overwrite)
    merged = {**info, **entries}
    path = dest / DATASET_INFO
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- ownership


def output_identity(out: Any) -> dict[str, Any]:
    """What names one OUTPUT in ``DEST/_vidray_export.json``: its URI and the fingerprint
    of the command that wrote it (``_vidray_run.json``), so a re-conversion into the same
    path with other options (``--overwrite``) is another OUTPUT, while a job that grows
    its output (more units committed) stays the same one."""
    from vidray import output
    from vidray.io import storage

    run = None
    if storage.exists(out, output.RUN_FILE):
        with storage.open_read(out, output.RUN_FILE) as f:
            run = json.load(f).get("fingerprint")
    return {"output": out.display(), "run": run}


def _read_sidecar(dest: Path) -> dict[str, Any]:
    sidecar = _read_json_object(dest / SIDECAR, "a JSON object") or {}
    return {"files": dict(sidecar.get("files", {})),
            "dataset_info": dict(sidecar.get("dataset_info", {}))}  # fmt: skip


def _owner_text(owner: dict[str, Any] | None) -> str:
    return "no recorded OUTPUT" if not owner else f"OUTPUT {owner.get('output')}"


def check_owners(
    dest: Path,
    identity: dict[str, Any],
    files: list[str],
    entries: list[str],
    *,
    overwrite: bool,
) -> None:
    """Refuse (before any work) to replace a record file, or a ``dataset_info.json``
    entry, that another OUTPUT wrote (or that no export recorded: written by hand, or
    by a vidray before 0.2); the same OUTPUT again is allowed, so re-exporting is
    idempotent. ``overwrite`` allows it all."""
    if overwrite:
        return
    sidecar = _read_sidecar(dest)
    for f in files:
        owner = sidecar["files"].get(f)
        if (dest / f).exists() and not _same_output(owner, identity):
            raise ExportError(
                f"{dest / f} was written from {_owner_text(owner)}, not {identity['output']}"
                f"{_run_differs(owner, identity)}; pass --overwrite to replace it, or --name "
                "to pick another name"
            )
    info = _read_dataset_info(dest) if entries else {}
    for name in entries:
        owner = sidecar["dataset_info"].get(name)
        if name in info and owner is not None and not _same_output(owner, identity):
            raise ExportError(
                f"{DATASET_INFO} entry {name!r} was written from {_owner_text(owner)}, not "
                f"{identity['output']}{_run_differs(owner, identity)}; pass --overwrite to "
                "replace it, or --name to pick another name"
            )


def _same_path(a: Any, b: str) -> bool:
    """Whether two OUTPUT paths name one folder, however each was spelled (a relative
    path from another directory, a trailing slash, a symlinked parent)."""
    from vidray.io import storage

    return isinstance(a, str) and storage.identity(a) == storage.identity(b)


def _same_output(owner: dict[str, Any] | None, identity: dict[str, Any]) -> bool:
    return (
        owner is not None
        and owner.get("run") == identity["run"]
        and _same_path(owner.get("output"), identity["output"])
    )


def _run_differs(owner: dict[str, Any] | None, identity: dict[str, Any]) -> str:
    if owner and _same_path(owner.get("output"), identity["output"]):
        return " (the same path, converted by another command since)"
    return ""


def record_owners(
    dest: Path, identity: dict[str, Any], files: list[str], entries: list[str]
) -> None:
    """Note in ``DEST/_vidray_export.json`` that ``identity`` wrote ``files`` and
    ``entries`` (replaced atomically; other records kept)."""
    sidecar = _read_sidecar(dest)
    sidecar["files"].update(dict.fromkeys(files, identity))
    sidecar["dataset_info"].update(dict.fromkeys(entries, identity))
    path = dest / SIDECAR
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
