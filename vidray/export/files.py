"""Where an export puts frames and records in DEST: the content-named frame folders
(``DEST/frames/<folder>/image_00001.jpg`` ..., written once, never partial) and the
record files, written to a temporary file per split and read back line by line."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vidray.export.errors import ExportError

#: Where frame folders go, relative to DEST; shared by every format, so several exports
#: of one OUTPUT into the same DEST write each clip's frames under one name.
FRAMES_DIR = "frames"
#: Hex digits of the frames' content hash in a folder name (64 bits).
_DIGEST_HEX = 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_JPEG_MAGIC = b"\xff\xd8"


# --------------------------------------------------------------------------- naming


def frames_digest(frames: list[bytes]) -> str:
    """sha256 of a folder's frames in file order (each length-prefixed): the content
    key of its folder, and what the read-back check recomputes from the files."""
    h = hashlib.sha256()
    for data in frames:
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def folder_name(
    source: str, video: str, clip_start: float | None, clip_end: float | None, digest: str
) -> str:
    """A file-safe folder name for one clip's frames: the source and video reference
    with unsafe characters replaced (``#`` and ``/`` in tar and parquet references) and
    the span, for people, then the frames' content hash (``frames_digest``), which is
    what keys it. A folder name therefore always means the same bytes: another OUTPUT or
    a conversion with other options (``--size``, ``--num-frames``) gets other folders,
    identical frames share one, and nothing an export writes ever needs deleting."""
    readable = _UNSAFE.sub("_", f"{source}_{video}").strip("._-")[:96]
    if clip_start is not None or clip_end is not None:
        span = "-".join("x" if t is None else f"{t:.3f}" for t in (clip_start, clip_end))
        readable = f"{readable}_{span}"
    return f"{readable}_{digest[:_DIGEST_HEX]}"


def frame_file(k: int) -> str:
    """``image_00001.jpg`` for the first frame: the AdaCLIP layout; the zero padding keeps
    name order equal to time order for loaders that sort a folder's listing."""
    return f"image_{k + 1:05d}.jpg"


def split_file(name: str, split: str, suffix: str) -> str:
    return f"{name}_{split}{suffix}" if split else f"{name}{suffix}"


# --------------------------------------------------------------------------- writing


class _JsonListWriter:
    """A JSON list written one record per line to a temporary file next to its final
    name: valid JSON for ``json.load`` and LLaMA-Factory, and readable back line by line
    (``json.dumps`` escapes newlines in strings) so validation needs no full load."""

    def __init__(self, path: Path, *, lines: bool = False) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
        self.lines = lines  # JSON Lines instead of a list
        self.count = 0
        #: The content hash (first 8 bytes) of each record's frames, in record order,
        #: for the read-back check: 8 bytes a record, no frames.
        self.digests = bytearray()
        self._f = open(self.tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if not lines:
            self._f.write("[")

    def write(self, record: dict[str, Any], digest: str) -> None:
        text = json.dumps(record, ensure_ascii=False)
        self.digests += bytes.fromhex(digest[:_DIGEST_HEX])
        if self.lines:
            self._f.write(text + "\n")
        else:
            self._f.write(("\n" if self.count == 0 else ",\n") + text)
        self.count += 1

    def close(self) -> None:
        if not self.lines:
            self._f.write("\n]\n")
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def commit(self) -> None:
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if not self._f.closed:
            self._f.close()
        if self.tmp.exists():
            self.tmp.unlink()


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a file written by an export, one line at a time (JSON list or JSON
    Lines); raises ExportError on a line that is not a JSON object."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            text = line.strip().removesuffix(",")
            if text in ("", "[", "]"):
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                raise ExportError(f"{path}:{n}: not JSON: {e}") from None
            if not isinstance(record, dict):
                raise ExportError(f"{path}:{n}: a record is not a JSON object")
            yield record


def _ordered_frames(row: dict[str, Any]) -> list[bytes]:
    """A row's frames in file order: by timestamp (an image row's images as stored)."""
    frames, stamps = row["frames"], row["frame_timestamps"]
    if not frames:
        raise ExportError(f"row {row['id']}: no frames")
    order = sorted(range(len(frames)), key=lambda i: stamps[i] if stamps else i)
    for i in order:
        if not frames[i].startswith(_JPEG_MAGIC):
            raise ExportError(f"row {row['id']}: frame {i} is not a JPEG image")
    return [frames[i] for i in order]


def _folder_holds(directory: Path, frames: list[bytes]) -> bool:
    """The folder holds exactly these frames as image_00001.jpg.. (nothing else)."""
    names = [frame_file(k) for k in range(len(frames))]
    try:
        if sorted(os.listdir(directory)) != names:
            return False
        return all((directory / n).read_bytes() == b for n, b in zip(names, frames, strict=True))
    except OSError:
        return False


def _write_frames(dest: Path, root: str, folder: str, frames: list[bytes]) -> list[str]:
    """Write ``frames`` as ``DEST/<root>/<folder>/image_NNNNN.jpg`` and return their paths
    relative to DEST. The folder is named by its content, so one that already holds
    exactly these bytes (an earlier export, of any OUTPUT) is kept as it is; anything
    else under that name (a crash mid-write, a hand edit) is replaced whole: the frames
    go to a temporary folder first, renamed into place, so the name never shows a
    partial set."""
    directory = dest / root / folder
    paths = [f"{root}/{folder}/{frame_file(k)}" for k in range(len(frames))]
    if _folder_holds(directory, frames):
        return paths
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{folder}.tmp-{uuid.uuid4().hex}")
    tmp.mkdir()
    try:
        for k, data in enumerate(frames):
            (tmp / frame_file(k)).write_bytes(data)
        if directory.exists():
            old = directory.with_name(f".{folder}.old-{uuid.uuid4().hex}")
            os.rename(directory, old)
            shutil.rmtree(old, ignore_errors=True)
        os.rename(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return paths
