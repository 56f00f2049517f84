"""The checks every format's validator is made of (a frame folder holds exactly its
frames, turns alternate, files exist), and the read-back check that the files a record
refers to hold its row's bytes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vidray.export.errors import ExportError
from vidray.export.files import _DIGEST_HEX, frame_file, frames_digest


def _resolve(base: Path, path: str) -> Path:
    return Path(path) if os.path.isabs(path) else base / path


def _check_folder(base: Path, rel: str, where: str, expected: int | None = None) -> None:
    """A frame folder holds exactly image_00001.jpg .. image_N.jpg (N = ``expected``)."""
    directory = _resolve(base, rel)
    if not directory.is_dir():
        raise ExportError(f"{where}: frame folder {rel} does not exist")
    names = sorted(os.listdir(directory))
    count = len(names) if expected is None else expected
    want = [frame_file(k) for k in range(count)]
    if count == 0 or names != want:
        raise ExportError(
            f"{where}: frame folder {rel} holds {names[:3]}... ({len(names)} files), "
            f"expected {want[:1]}..{want[-1:]} ({count} files)"
        )


def _check_alternating(turns: list[tuple[str, Any]], first: str, second: str, where: str) -> None:
    roles = [r for r, _ in turns]
    want = [first if k % 2 == 0 else second for k in range(len(roles))]
    if not roles or len(roles) % 2 or roles != want:
        raise ExportError(f"{where}: turns must alternate {first}/{second}, got {roles}")
    if not all(isinstance(v, str) for _, v in turns):
        raise ExportError(f"{where}: a turn's text is not a string")


def _check_files(paths: Any, base: Path, where: str, what: str) -> None:
    if not isinstance(paths, list) or not paths:
        raise ExportError(f"{where}: {what} must be a non-empty list of image paths")
    for path in paths:
        if not isinstance(path, str) or not _resolve(base, path).is_file():
            raise ExportError(f"{where}: image file {path} does not exist")


def folder_files(base: Path, rel: str) -> list[Path]:
    """A frame folder's files as a loader lists them (sorted by name)."""
    folder = _resolve(base, rel)
    return [folder / n for n in sorted(os.listdir(folder)) if (folder / n).is_file()]


def check_record_bytes(
    files: list[Path],
    digest: str,
    where: str,
    cache: dict[tuple[str, ...], str] | None = None,
) -> None:
    """The files a record refers to (its format's ``referenced_files``) hold exactly the
    frames of its row: their content hash equals ``digest`` (its prefix), the hash of the
    row's frames taken while exporting. ``cache`` remembers a file list's hash, so a
    folder shared by many rows is read once."""
    key = tuple(str(f) for f in files)
    found = cache.get(key) if cache is not None else None
    if found is None:
        found = frames_digest([f.read_bytes() for f in files])
        if cache is not None:
            cache[key] = found
    if not found.startswith(digest):
        raise ExportError(
            f"{where}: its files ({files[0].parent}) do not hold the frames of its row "
            f"(content hash {found[:_DIGEST_HEX]}, the row's {digest[:_DIGEST_HEX]})"
        )
