"""Exports trainers read, from a vidray OUTPUT: ``vidray export FORMAT OUTPUT DEST``.

A vidray OUTPUT keeps frames inside Parquet; trainers want JSON records that point at
image files on a local disk. Every export therefore does the same three things:

1. stream OUTPUT's committed data files one row group at a time (frames are never all
   in memory; what is kept per video+clip is its folder name and frame count only, plus
   the row ids for the ``frames`` index);
2. write each distinct set of frames once as ``DEST/frames/<folder>/image_00001.jpg``,
   ``image_00002.jpg``, ... in timestamp order, the JPEG bytes exactly as vidray encoded
   them, the folder named by their content hash (so exports of different OUTPUTs or
   options into one DEST never share or delete each other's files), and one record per
   row into a temporary file per split;
3. read every record back from disk and validate it (media tokens == media entries,
   every referenced file present and holding its row's bytes, by hash), and only then
   move the files into place (and, for LLaMA-Factory, merge ``dataset_info.json``). A
   failed validation leaves no new record file behind.

A record file or ``dataset_info.json`` entry another OUTPUT wrote is refused unless
``--overwrite`` (``DEST/_vidray_export.json`` records who wrote what).

Formats: ``llamafactory`` (sharegpt ``messages`` + ``videos`` as lists of frame paths, or
``images`` for image rows, the ``dataset_info.json`` form of seed 001 and LLaMA-Factory's
``mllm_demo``), ``llava`` (the recipe's ``{id, conversations, video, query}`` with ``video``
a frame folder, or ``image`` for image rows), ``frames`` (folders plus a JSON Lines index)
and ``clip`` (image-text pairs ``{image, text, label?, classname?, split}`` with the
``file_name``-only ``dataset_info.json`` entry seed 001 gives CLIP). ``docs/output-schema.md``
("Exports") documents each file.

Image rows (image datasets: ``frame_timestamps`` empty) are written like a clip's frames,
``DEST/frames/<folder>/image_00001.jpg`` (several in the dataset's order), one folder per
image reference, shared by every row (caption) of that image.

Splits are assigned by hashing the *group* (video and clip, or video alone with
``--split-by video``) with the seed, never the row id and never a shuffle: every row of a
clip lands in the same split (its frames cannot leak from train into test) and the
assignment does not depend on file order, worker count or which other rows exist.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vidray.argtypes import whole_number

Format = Literal["llamafactory", "llava", "frames", "clip"]
FORMATS: tuple[str, ...] = ("llamafactory", "llava", "frames", "clip")
#: The formats that register their files in ``DEST/dataset_info.json``.
DATASET_INFO_FORMATS = ("llamafactory", "clip")

#: Where frame folders go, relative to DEST; shared by every format, so several exports
#: of one OUTPUT into the same DEST write each clip's frames under one name.
FRAMES_DIR = "frames"
#: Where ``llava`` puts video frame folders: stock LLaVA-NeXT (``llava/train/train.py``,
#: ``LazySupervisedDataset._get_item``) reads a folder of frames only when the joined
#: path contains ``shareVideoGPTV``; any other path is decoded as a video file, which
#: fails on a folder, and the sample is skipped for the next one.
LLAVA_VIDEO_DIR = f"{FRAMES_DIR}/shareVideoGPTV"
DATASET_INFO = "dataset_info.json"
#: Which OUTPUT wrote each record file and ``dataset_info.json`` entry in DEST.
SIDECAR = "_vidray_export.json"
#: Hex digits of the frames' content hash in a folder name (64 bits).
_DIGEST_HEX = 16
IMAGE_TOKEN = "<image>"
VIDEO_TOKEN = "<video>"
LEAD = IMAGE_TOKEN + "\n"

#: Roles of the vidray conversation turns and their LLaMA-Factory names.
ROLES = {"human": "user", "gpt": "assistant"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_JPEG_MAGIC = b"\xff\xd8"
#: Ratios must add up to 1 within this (``0.7,0.2,0.1`` is not exactly 1.0 in floats).
_SUM_TOLERANCE = 1e-6
_COLUMNS = ["id", "source", "video", "clip_start", "clip_end", "conversations", "query",
            "frames", "frame_timestamps", "width", "height"]  # fmt: skip
#: Columns of schema version 2; a version 1 file lacks them (read as null).
_OPTIONAL = ["label", "classname"]


class ExportError(Exception):
    """The export cannot be done or did not validate; the message is one line."""


# --------------------------------------------------------------------------- options


def parse_split(spec: str) -> tuple[tuple[str, float], ...]:
    """``train=0.8,val=0.1,test=0.1`` -> ``(("train", 0.8), ...)``, checked: distinct
    file-safe names, positive ratios that sum to 1."""
    splits: list[tuple[str, float]] = []
    for part in spec.split(","):
        name, sep, ratio_text = part.strip().partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--split: expected NAME=RATIO[,NAME=RATIO...], got {spec!r}")
        if not _SPLIT_NAME.match(name):
            raise ValueError(f"--split: bad split name {name!r} (letters, digits, - and _)")
        try:
            ratio = float(ratio_text)
        except ValueError:
            raise ValueError(
                f"--split: ratio of {name!r} is not a number: {ratio_text!r}"
            ) from None
        if not (math.isfinite(ratio) and ratio > 0):
            raise ValueError(f"--split: ratio of {name!r} must be > 0, got {ratio_text.strip()}")
        if name in (n for n, _ in splits):
            raise ValueError(f"--split: split {name!r} given twice")
        splits.append((name, ratio))
    total = sum(r for _, r in splits)
    if abs(total - 1.0) > _SUM_TOLERANCE:
        raise ValueError(f"--split: ratios must sum to 1, got {total:g} ({spec})")
    return tuple(splits)


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """One export, as the CLI builds it; checked at construction."""

    format: Format
    output: str
    dest: str
    name: str | None = None  # default: the output's source name
    split: tuple[tuple[str, float], ...] | None = None  # None: one file, no split
    split_by: Literal["clip", "video"] = "clip"
    seed: int = 0
    overwrite: bool = False  # replace record files / entries another OUTPUT wrote
    absolute_paths: bool = False  # llamafactory, clip: absolute frame paths in records

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown export format {self.format!r}; one of {FORMATS}")
        if self.split_by not in ("clip", "video"):
            raise ValueError(f"--split-by must be clip or video, got {self.split_by!r}")
        if self.name is not None and not _NAME.match(self.name):
            raise ValueError(f"--name {self.name!r}: use letters, digits, '.', '-' and '_'")
        if self.dest.startswith("s3://") or (
            "://" in self.dest and not self.dest.startswith("file://")
        ):
            raise ValueError(
                f"DEST must be a local directory (trainers read local files): {self.dest}"
            )


@dataclass
class ExportSummary:
    format: str
    dest: str
    files: list[str] = field(default_factory=list)  # record/index files, relative to DEST
    records: dict[str, int] = field(default_factory=dict)  # per split ("" when unsplit)
    frame_folders: int = 0
    frame_files: int = 0

    def describe(self) -> str:
        total = sum(self.records.values())
        if list(self.records) == [""]:
            splits = f"no split ({self.files[0]})"
        else:
            splits = "splits " + ", ".join(f"{k}={v}" for k, v in self.records.items())
        unit = "index lines" if self.format == "frames" else "records"
        return (
            f"exported {total} {unit} ({self.format}) to {self.dest}: "
            f"{self.frame_folders} frame folders, {self.frame_files} frame files; {splits}"
        )


# --------------------------------------------------------------------------- naming


def group_key(video: str, clip_start: float | None, clip_end: float | None) -> str:
    """The split key of a clip: rows with the same video and span share it."""
    return json.dumps([video, clip_start, clip_end])


def assign_split(key: str, splits: tuple[tuple[str, float], ...], seed: int) -> str:
    """The split of ``key``: sha256(seed, key) read as a number in [0, 1), placed on the
    cumulative ratios. A pure function of (seed, key), so it is the same on every run,
    and each key's draw is independent of every other row's."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    edge = 0.0
    for name, ratio in splits:
        edge += ratio
        if u < edge:
            return name
    return splits[-1][0]  # ratios summing to 1 - epsilon: the rest goes to the last


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


def dataset_info_entry(file_name: str, media: str = "videos") -> dict[str, Any]:
    """A ``dataset_info.json`` entry exactly in the form of seed 001 (``media``
    ``videos``), or of LLaMA-Factory's ``mllm_demo`` (``images``)."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", media: media},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }


# --------------------------------------------------------------------------- reading


def _data_files(out: Any) -> tuple[list[str], dict[str, Any] | None]:
    """The committed data files of OUTPUT (``sink.committed_data_files``) and its
    manifest, or an ExportError when OUTPUT is not a vidray output or holds no data."""
    from vidray import sink
    from vidray.io import storage

    if storage.exists(out, sink.MARKER):
        return sink.committed_data_files(out), sink.read_manifest(out)
    if not any(storage.exists(out, rel) for rel in (sink.UNITS_DIR, "_units", sink.RUN_FILE)):
        raise ExportError(
            f"{out.display()} is not a vidray output (no {sink.MARKER}, "
            f"{sink.UNITS_DIR}/ or {sink.RUN_FILE})"
        )
    files = sink.committed_data_files(out)
    if files:
        print(
            f"vidray: warning: {out.display()} has no {sink.MARKER} (a job still running or "
            f"stopped): exporting the {len(files)} data files committed so far",
            file=sys.stderr,
        )
    return files, None


def _iter_rows(out: Any, files: list[str]) -> Iterator[dict[str, Any]]:
    """Rows of ``files``, one per question in either layout (a clips file's rows are
    flattened with ``schema.flatten_clip_row``), a few at a time: memory holds one
    batch of frames, not the dataset."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vidray.io import storage
    from vidray.schema import CLIP_SCHEMA, OUTPUT_SCHEMA, flatten_clip_row, layout_of

    for rel in files:
        with storage.open_read(out, rel) as f:
            try:
                pf = pq.ParquetFile(f)
            except (pa.ArrowException, OSError) as e:
                raise ExportError(f"{out.display(rel)}: not a Parquet file: {e}") from None
            schema = pf.schema_arrow
            clips = layout_of(schema) == "clips"
            want_schema = CLIP_SCHEMA if clips else OUTPUT_SCHEMA
            # A clips file is read whole (it is never of schema version 1).
            wanted = list(CLIP_SCHEMA.names) if clips else _COLUMNS
            for col in wanted:
                want = want_schema.field(col).type
                if col not in schema.names or not schema.field(col).type.equals(want):
                    raise ExportError(
                        f"{out.display(rel)}: not a vidray data file (column {col!r} missing "
                        f"or not {want})"
                    )
            optional = [c for c in _OPTIONAL if c in schema.names and c not in wanted]
            keep = [*_COLUMNS, *_OPTIONAL]
            for batch in pf.iter_batches(batch_size=32, columns=wanted + optional):
                for record in batch.to_pylist():
                    for row in flatten_clip_row(record):
                        yield {**dict.fromkeys(_OPTIONAL), **{k: row[k] for k in keep if k in row}}


def _first_row(out: Any, files: list[str]) -> dict[str, Any]:
    """The output's first row: its source when no ``_SUCCESS`` says it, and whether the
    output holds images or videos."""
    for row in _iter_rows(out, files[:1]):
        return row
    raise ExportError(f"{out.display(files[0])} has no rows")


def is_image_row(row: dict[str, Any]) -> bool:
    """An image row has its image(s) in ``frames`` and no time axis (a video row has a
    timestamp per frame)."""
    return not row["frame_timestamps"]


def _dataset_split(out: Any, manifest: dict[str, Any] | None, source: str) -> str:
    """The dataset split the output was converted from (``--split``, else the source's
    default): the ``split`` of a ``clip`` record when the export makes no split."""
    from vidray import sink, sources
    from vidray.io import storage

    options = (manifest or {}).get("options")
    if options is None and storage.exists(out, sink.RUN_FILE):
        with storage.open_read(out, sink.RUN_FILE) as f:
            options = json.load(f).get("options")
    split = (options or {}).get("split")
    if split:
        return str(split)
    cls = sources.REGISTRY.get(source)
    return getattr(cls, "default_split", None) or "train"


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


def _turns(row: dict[str, Any]) -> list[dict[str, str]]:
    turns = row["conversations"] or []
    if not turns or turns[0]["from"] != "human" or not (turns[0]["value"] or "").startswith(LEAD):
        raise ExportError(
            f"row {row['id']}: the first turn must be the human turn starting with "
            f"{LEAD!r} (not a vidray output row?)"
        )
    return turns


def llamafactory_record(row: dict[str, Any], frame_paths: list[str]) -> dict[str, Any]:
    """A sharegpt record: the leading ``<image>\\n`` becomes one ``<video>`` token (so only
    the first user turn carries it) and ``videos`` holds one video as its frame list; for
    an image row, one ``<image>`` token per image and ``images`` the image paths (the
    form of LLaMA-Factory's ``mllm_demo``)."""
    image = is_image_row(row)
    lead = IMAGE_TOKEN * len(frame_paths) if image else VIDEO_TOKEN
    messages = []
    for k, turn in enumerate(_turns(row)):
        role = ROLES.get(turn["from"])
        if role is None:
            raise ExportError(f"row {row['id']}: turn {k} has role {turn['from']!r}")
        value = turn["value"]
        if k == 0:
            value = lead + value[len(LEAD) :]
        messages.append({"role": role, "content": value})
    if image:
        return {"messages": messages, "images": frame_paths}
    return {"messages": messages, "videos": [frame_paths]}


def llava_record(row: dict[str, Any], folder: str, frame_paths: list[str]) -> dict[str, Any]:
    """The recipe's record (seed 000) with the row id; ``video`` is the frame folder
    (relative to DEST, under ``LLAVA_VIDEO_DIR``). An
    image row has ``image`` instead: its path (LLaVA's single-image record), or the list
    of its paths with one ``<image>\\n`` per image leading the first human turn."""
    turns = [{"from": t["from"], "value": t["value"]} for t in _turns(row)]
    query = row["query"] if row["query"] is not None else turns[0]["value"][len(LEAD) :]
    if not is_image_row(row):
        return {"id": row["id"], "conversations": turns, "video": folder,
                "query": query}  # fmt: skip
    if len(frame_paths) > 1:
        turns[0]["value"] = LEAD * (len(frame_paths) - 1) + turns[0]["value"]
    image: str | list[str] = frame_paths[0] if len(frame_paths) == 1 else frame_paths
    return {"id": row["id"], "conversations": turns, "image": image, "query": query}


def clip_record(row: dict[str, Any], frame_paths: list[str], split: str) -> dict[str, Any]:
    """An image-text pair for CLIP-style training: the row's one image and its answer
    (the caption, or ``a photo of a {classname}.``), its class where it has one, and
    the split it belongs to."""
    turns = _turns(row)
    if not is_image_row(row):
        raise ExportError(
            f"row {row['id']}: clip takes image rows, this is a video row (the frames "
            "format writes video frame folders)"
        )
    if len(frame_paths) != 1:
        raise ExportError(
            f"row {row['id']}: clip takes one image per row, this one has {len(frame_paths)} "
            "(export it with llamafactory or llava)"
        )
    if len(turns) != 2:
        raise ExportError(
            f"row {row['id']}: clip takes one (question, answer) pair per row, this one has "
            f"{len(turns)} turns (convert with --qa-mode split)"
        )
    record: dict[str, Any] = {"image": frame_paths[0], "text": turns[1]["value"]}
    if row["label"] is not None:
        record["label"] = row["label"]
    if row["classname"] is not None:
        record["classname"] = row["classname"]
    record["split"] = split
    return record


# --------------------------------------------------------------------------- validation


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


def validate_llamafactory_record(record: dict[str, Any], base: Path, where: str = "record") -> None:
    """What LLaMA-Factory checks (and what makes it skip or fail a sample): roles that
    alternate user/assistant, one ``<video>`` token per entry of ``videos`` and one
    ``<image>`` token per entry of ``images`` (a record has one of the two lists), and
    every file present."""
    messages = record.get("messages")
    videos, images = record.get("videos", []), record.get("images", [])
    if not isinstance(messages, list) or not ("videos" in record) ^ ("images" in record):
        raise ExportError(f"{where}: needs a 'messages' list and a 'videos' or 'images' list")
    if not isinstance(videos, list) or not isinstance(images, list):
        raise ExportError(f"{where}: 'videos' and 'images' must be lists")
    turns = [(m.get("role"), m.get("content")) for m in messages if isinstance(m, dict)]
    if len(turns) != len(messages):
        raise ExportError(f"{where}: a message is not an object")
    _check_alternating(turns, "user", "assistant", where)
    text = "".join(content for _, content in turns)
    for token, items, what in ((VIDEO_TOKEN, videos, "videos"), (IMAGE_TOKEN, images, "images")):
        if text.count(token) != len(items):
            raise ExportError(
                f"{where}: {text.count(token)} {token} tokens for {len(items)} {what}"
            )
    for video in videos:
        _check_files(video, base, where, "a video")
    if images:
        _check_files(images, base, where, "'images'")


def validate_llava_record(record: dict[str, Any], base: Path, where: str = "record") -> None:
    """The recipe's record: human/gpt turns, ``<image>\\n`` leading the first human turn
    and appearing once per image in all (a video counts one), and a frame folder (or the
    image files of ``image``) that exists under DEST."""
    media = "image" if "image" in record else "video"
    for key in ("id", "conversations", media, "query"):
        if key not in record:
            raise ExportError(f"{where}: missing {key!r}")
    convs = record["conversations"]
    if not isinstance(convs, list) or not all(isinstance(t, dict) for t in convs):
        raise ExportError(f"{where}: 'conversations' must be a list of objects")
    turns = [(t.get("from"), t.get("value")) for t in convs]
    _check_alternating(turns, "human", "gpt", where)
    if not turns[0][1].startswith(LEAD):
        raise ExportError(f"{where}: the human turn does not start with {LEAD!r}")
    tokens = sum(v.count(IMAGE_TOKEN) for _, v in turns)
    if media == "image":
        image = record["image"]
        paths = [image] if isinstance(image, str) else image
        _check_files(paths, base, where, "'image'")
        if tokens != len(paths) or not turns[0][1].startswith(LEAD * len(paths)):
            raise ExportError(f"{where}: {tokens} {IMAGE_TOKEN} tokens for {len(paths)} images")
        return
    if tokens != 1:
        raise ExportError(f"{where}: {tokens} {IMAGE_TOKEN} tokens for 1 video")
    if not isinstance(record["video"], str):
        raise ExportError(f"{where}: 'video' must be a path")
    _check_folder(base, record["video"], where)


def validate_frames_entry(entry: dict[str, Any], base: Path, where: str = "entry") -> None:
    """An index line: its folder holds exactly ``num_frames`` images named in order, one
    timestamp each (none for images), and at least one row id."""
    for key in ("folder", "video", "ids", "num_frames", "frame_timestamps"):
        if key not in entry:
            raise ExportError(f"{where}: missing {key!r}")
    if not entry["ids"]:
        raise ExportError(f"{where}: no row ids")
    if len(entry["frame_timestamps"]) not in (0, entry["num_frames"]):
        n, stamps = entry["num_frames"], len(entry["frame_timestamps"])
        raise ExportError(f"{where}: {n} frames but {stamps} timestamps")
    _check_folder(base, entry["folder"], where, entry["num_frames"])


def validate_clip_record(record: dict[str, Any], base: Path, where: str = "record") -> None:
    """An image-text pair: an image file that exists, a text, a split name, and the
    class id (a whole number) and name where given."""
    if set(record) - {"image", "text", "label", "classname", "split"}:
        raise ExportError(f"{where}: unexpected keys {sorted(record)}")
    for key in ("image", "text", "split"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise ExportError(f"{where}: {key!r} must be a non-empty string")
    label = record.get("label")
    if "label" in record and (not isinstance(label, int) or isinstance(label, bool)):
        raise ExportError(f"{where}: 'label' must be a whole number, got {label!r}")
    if "classname" in record and not isinstance(record["classname"], str):
        raise ExportError(f"{where}: 'classname' must be a string")
    _check_files([record["image"]], base, where, "'image'")


def referenced_files(fmt: str, record: dict[str, Any], base: Path) -> list[Path]:
    """The image files a (validated) record makes its trainer read, in the order it
    reads them: a frame folder as its loader lists it (files, sorted by name)."""
    if fmt == "llamafactory":
        paths = record["videos"][0] if record.get("videos") else record["images"]
    elif fmt == "clip":
        paths = [record["image"]]
    elif fmt == "llava" and "image" in record:
        paths = [record["image"]] if isinstance(record["image"], str) else record["image"]
    else:
        folder = _resolve(base, record["video" if fmt == "llava" else "folder"])
        return [folder / n for n in sorted(os.listdir(folder)) if (folder / n).is_file()]
    return [_resolve(base, p) for p in paths]


def check_record_bytes(
    fmt: str,
    record: dict[str, Any],
    base: Path,
    digest: str,
    where: str,
    cache: dict[tuple[str, ...], str] | None = None,
) -> None:
    """The files ``record`` refers to hold exactly the frames of its row: their content
    hash equals ``digest`` (its prefix), the hash of the row's frames taken while
    exporting. ``cache`` remembers a file list's hash, so a folder shared by many rows is
    read once."""
    files = referenced_files(fmt, record, base)
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


VALIDATORS = {
    "llamafactory": validate_llamafactory_record,
    "llava": validate_llava_record,
    "frames": validate_frames_entry,
    "clip": validate_clip_record,
}


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
    from vidray import sink
    from vidray.io import storage

    run = None
    if storage.exists(out, sink.RUN_FILE):
        with storage.open_read(out, sink.RUN_FILE) as f:
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
        if (dest / f).exists() and owner != identity:
            raise ExportError(
                f"{dest / f} was written from {_owner_text(owner)}, not {identity['output']}"
                f"{_run_differs(owner, identity)}; pass --overwrite to replace it, or --name "
                "to pick another name"
            )
    info = _read_dataset_info(dest) if entries else {}
    for name in entries:
        owner = sidecar["dataset_info"].get(name)
        if name in info and owner is not None and owner != identity:
            raise ExportError(
                f"{DATASET_INFO} entry {name!r} was written from {_owner_text(owner)}, not "
                f"{identity['output']}{_run_differs(owner, identity)}; pass --overwrite to "
                "replace it, or --name to pick another name"
            )


def _run_differs(owner: dict[str, Any] | None, identity: dict[str, Any]) -> str:
    if owner and owner.get("output") == identity["output"]:
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


# --------------------------------------------------------------------------- export


def export(opts: ExportOptions) -> ExportSummary:
    """Run one export; raises ExportError (or StorageError) with a one-line message."""
    from vidray.io import storage

    dest = Path(opts.dest.removeprefix("file://")).resolve()
    storage.check_folder(storage.location(str(dest)), "DEST", write=True)
    out = storage.location(opts.output)
    storage.check_reachable(out)
    if out.scheme == "file" and not os.path.isdir(out.path):
        raise ExportError(f"{out.display()} does not exist")
    files, manifest = _data_files(out)
    if not files:
        raise ExportError(f"{out.display()} has no data rows to export")
    first = _first_row(out, files)
    source = (manifest or {}).get("source") or first["source"]
    name = opts.name or source
    if not _NAME.match(name):
        raise ExportError(f"the source name {name!r} is not a file name; pass --name")
    # One source gives one kind of row; the first one says which the records hold.
    images = is_image_row(first)

    split_names = [s for s, _ in opts.split] if opts.split else [""]
    suffix = "_index.jsonl" if opts.format == "frames" else ".json"
    targets = {s: split_file(name, s, suffix) for s in split_names}
    if opts.format == "clip":  # seed 001: "CLIP/CN-CLIP/AdaCLIP: the JSON filename only"
        entries = {Path(f).stem: {"file_name": f} for f in targets.values()}
    else:
        media = "images" if images else "videos"
        entries = {Path(f).stem: dataset_info_entry(f, media) for f in targets.values()}
    identity = output_identity(out)
    entry_names = list(entries) if opts.format in DATASET_INFO_FORMATS else []
    # refuse before hours of work, not after
    check_owners(dest, identity, list(targets.values()), entry_names, overwrite=opts.overwrite)
    if opts.format in DATASET_INFO_FORMATS:
        _check_dataset_info(_read_dataset_info(dest), entries, opts.overwrite)
    dataset_split = _dataset_split(out, manifest, source) if opts.format == "clip" else ""
    dest.mkdir(parents=True, exist_ok=True)  # the first write: every check passed

    summary = ExportSummary(opts.format, str(dest), files=list(targets.values()))
    writers = {
        s: _JsonListWriter(dest / f, lines=opts.format == "frames") for s, f in targets.items()
    }
    try:
        _convert(opts, out, files, dest, writers, summary, images, dataset_split)
        for w in writers.values():
            w.close()
        validate = VALIDATORS[opts.format]
        hashed: dict[tuple[str, ...], str] = {}
        for s, w in writers.items():
            n = 0
            for n, record in enumerate(iter_records(w.tmp), 1):
                where = f"{targets[s]} record {n}"
                validate(record, dest, where)
                digest = w.digests[8 * (n - 1) : 8 * n].hex()
                check_record_bytes(opts.format, record, dest, digest, where, hashed)
            if n != w.count:
                raise ExportError(f"{targets[s]}: {n} records read back of {w.count} written")
        # Owners first: a crash after this leaves our own name on files that were
        # either ours already or absent (another OUTPUT's are refused above unless
        # --overwrite), so the next export of this OUTPUT is not refused.
        record_owners(dest, identity, list(targets.values()), entry_names)
        for w in writers.values():
            w.commit()
    finally:
        for w in writers.values():
            w.discard()
    if opts.format in DATASET_INFO_FORMATS:
        merge_dataset_info(dest, entries, overwrite=opts.overwrite)
    summary.records = {s: w.count for s, w in writers.items()}
    return summary


def _convert(
    opts: ExportOptions,
    out: Any,
    files: list[str],
    dest: Path,
    writers: dict[str, _JsonListWriter],
    summary: ExportSummary,
    images: bool,
    dataset_split: str,
) -> None:
    """Stream the rows, write each clip's frames once, and one record per row (frames:
    one index line per clip, written at the end since it lists the clip's row ids).
    ``images``: the output holds image rows (every row must); ``dataset_split``: the
    ``split`` of a ``clip`` record when the export makes no split."""
    from vidray.schema import flatten_clip_row

    # (source, video, clip) -> the content hash of its frames: rows of one clip must
    # agree; and the folders written (or found whole) so far. No frame bytes are kept.
    clips: dict[tuple[Any, ...], str] = {}
    written: set[str] = set()
    index: dict[str, tuple[str, dict[str, Any], str]] = {}  # frames: folder -> split, line
    root = LLAVA_VIDEO_DIR if opts.format == "llava" and not images else FRAMES_DIR
    for clip_row in _iter_rows(out, files):
        for row in flatten_clip_row(clip_row):
            _convert_row(opts, row, dest, root, writers, summary, images, dataset_split,
                         clips, written, index)  # fmt: skip
    for split, entry, digest in index.values():
        writers[split].write(entry, digest)


def _convert_row(
    opts: ExportOptions,
    row: dict[str, Any],
    dest: Path,
    root: str,
    writers: dict[str, _JsonListWriter],
    summary: ExportSummary,
    images: bool,
    dataset_split: str,
    clips: dict[tuple[Any, ...], str],
    written: set[str],
    index: dict[str, tuple[str, dict[str, Any], str]],
) -> None:
    if is_image_row(row) != images:
        kinds = ("image", "video") if images else ("video", "image")
        raise ExportError(
            f"row {row['id']}: a {kinds[1]} row among {kinds[0]} rows; "
            "an export holds one kind (export each source's OUTPUT on its own)"
        )
    clip = (row["video"], row["clip_start"], row["clip_end"])
    stamps = sorted(row["frame_timestamps"])
    if not images and len(row["frames"]) != len(stamps):
        raise ExportError(
            f"row {row['id']}: {len(row['frames'])} frames but {len(stamps)} timestamps"
        )
    frames = _ordered_frames(row)
    digest = frames_digest(frames)
    key = (row["source"], *clip)
    if clips.setdefault(key, digest) != digest:
        # a vidray OUTPUT gives every row of a clip the same frames: this one is mixed
        raise ExportError(
            f"row {row['id']}: shares video and clip with an earlier row but not its frames"
        )
    folder = folder_name(row["source"], *clip, digest)
    rel_folder = f"{root}/{folder}"
    if rel_folder in written:
        paths = [f"{rel_folder}/{frame_file(k)}" for k in range(len(frames))]
    else:
        paths = _write_frames(dest, root, folder, frames)
        written.add(rel_folder)
        summary.frame_folders += 1
        summary.frame_files += len(paths)
    if opts.split:
        split_key = group_key(*clip) if opts.split_by == "clip" else group_key(clip[0], None, None)
        split = assign_split(split_key, opts.split, opts.seed)
    else:
        split = ""
    shown = [str(dest / p) for p in paths] if opts.absolute_paths else paths
    if opts.format == "llamafactory":
        writers[split].write(llamafactory_record(row, shown), digest)
    elif opts.format == "llava":
        writers[split].write(llava_record(row, rel_folder, paths), digest)
    elif opts.format == "clip":
        writers[split].write(clip_record(row, shown, split or dataset_split), digest)
    else:
        _turns(row)  # the same input check as the other formats
        if rel_folder not in index:
            entry = {
                "folder": rel_folder,
                "source": row["source"],
                "video": row["video"],
                "clip_start": row["clip_start"],
                "clip_end": row["clip_end"],
                "num_frames": len(paths),
                "frame_timestamps": stamps,
                "width": row["width"],
                "height": row["height"],
                "ids": [],
            }
            index[rel_folder] = (split, entry, digest)
        index[rel_folder][1]["ids"].append(row["id"])


# --------------------------------------------------------------------------- command line


def add_export_parser(sub: Any) -> None:
    """``vidray export FORMAT OUTPUT DEST [options]`` under the CLI's subparsers."""
    parser = sub.add_parser(
        "export",
        help="write what trainers read (LLaMA-Factory, LLaVA, frame folders, CLIP pairs) from "
        "an OUTPUT",
        description="Write trainer inputs from a vidray OUTPUT (local or s3://) into a local "
        "DEST: JSON records plus the frames (or images) as JPEG files under DEST/frames/.",
    )
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    helps = {
        "llamafactory": "sharegpt records {messages, videos: [[frame paths]]} (image sets: "
        "{messages, images: [paths]}, one <image> per image) in DEST/NAME.json and their "
        "entries in DEST/dataset_info.json (use dataset_dir: DEST)",
        "llava": "the recipe's records {id, conversations, video, query} in DEST/NAME.json; "
        "video is a frame folder relative to DEST under frames/shareVideoGPTV/ (stock "
        "LLaVA-NeXT reads frame folders only there; use DEST as video_folder, with "
        "--force_sample True --frames_upbound N); image sets: "
        "image, the image's path (use DEST as image_folder)",
        "frames": "DEST/frames/<clip>/image_00001.jpg... and an index DEST/NAME_index.jsonl "
        "(one line per folder: video, clip, row ids)",
        "clip": "image-text pairs {image, text, label?, classname?, split} of an image set in "
        "DEST/NAME.json, and its file_name entry in DEST/dataset_info.json (CLIP, CN-CLIP)",
    }
    for fmt in FORMATS:
        p = formats.add_parser(fmt, help=helps[fmt], description=helps[fmt])
        p.add_argument(
            "output", metavar="OUTPUT", help="a vidray output root: local path, file:// or s3://"
        )
        p.add_argument(
            "dest", metavar="DEST", help="local directory to write into (created if missing)"
        )
        p.add_argument("--name", default=None, help="file and dataset name (default: the source)")
        p.add_argument(
            "--split",
            default=None,
            metavar="NAME=RATIO,...",
            help="e.g. train=0.8,val=0.1,test=0.1: one file per split (NAME_train...), "
            "assigned by a hash of each row's video and clip, so a clip never straddles splits",
        )
        p.add_argument(
            "--split-by",
            choices=("clip", "video"),
            default="clip",
            help="the unit kept whole by --split: a video+clip (default) or a whole video",
        )
        p.add_argument(
            "--seed", type=whole_number, default=0, help="seed of the split hash (default: 0)"
        )
        p.add_argument(
            "--overwrite",
            action="store_true",
            help="replace record files (and dataset_info.json entries) of the same name that "
            "another OUTPUT wrote (default: refused; the same OUTPUT again is fine)",
        )
        if fmt in DATASET_INFO_FORMATS:
            p.add_argument(
                "--absolute-paths",
                action="store_true",
                help="absolute frame paths in the records (default: relative to DEST, which "
                "LLaMA-Factory resolves against media_dir, by default dataset_dir)",
            )


def run_export(args: argparse.Namespace) -> int:
    """The ``vidray export`` command: 0 and a one-line summary, or 2 and one error line."""
    from vidray.io.storage import StorageError

    try:
        opts = ExportOptions(
            format=args.format,
            output=args.output,
            dest=args.dest,
            name=args.name,
            split=parse_split(args.split) if args.split is not None else None,
            split_by=args.split_by,
            seed=args.seed,
            overwrite=args.overwrite,
            absolute_paths=getattr(args, "absolute_paths", False),
        )
        summary = export(opts)
    except (ValueError, ExportError, StorageError) as e:
        print(f"vidray: error: {e}", file=sys.stderr)
        return 2
    print(summary.describe())
    return 0
