"""One export, start to end: check, stream the rows into frame folders and records,
read every record back through its format's validator and the byte check, then move
the files into place and merge ``dataset_info.json``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vidray.export.errors import ExportError
from vidray.export.files import (
    _JsonListWriter,
    _ordered_frames,
    _write_frames,
    folder_name,
    frame_file,
    frames_digest,
    iter_records,
    split_file,
)
from vidray.export.formats import FORMATS, ExportFormat, Placement
from vidray.export.options import _NAME, ExportOptions, ExportSummary, assign_split, group_key
from vidray.export.owners import (
    _check_dataset_info,
    _read_dataset_info,
    check_owners,
    merge_dataset_info,
    output_identity,
    record_owners,
)
from vidray.export.rows import _data_files, _dataset_split, _first_row, _iter_rows, is_image_row
from vidray.export.validate import check_record_bytes


def export(opts: ExportOptions) -> ExportSummary:
    """Run one export; raises ExportError (or StorageError) with a one-line message."""
    from vidray.io import storage

    fmt = FORMATS[opts.format]()
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
    targets = {s: split_file(name, s, fmt.suffix) for s in split_names}
    entries = {
        Path(f).stem: entry
        for f in targets.values()
        if (entry := fmt.dataset_info(f, images)) is not None
    }
    identity = output_identity(out)
    # refuse before hours of work, not after
    check_owners(dest, identity, list(targets.values()), list(entries), overwrite=opts.overwrite)
    if entries:
        _check_dataset_info(_read_dataset_info(dest), entries, opts.overwrite)
    dataset_split = _dataset_split(out, manifest, source) if fmt.uses_dataset_split else ""
    dest.mkdir(parents=True, exist_ok=True)  # the first write: every check passed

    summary = ExportSummary(opts.format, str(dest), files=list(targets.values()))
    writers = {s: _JsonListWriter(dest / f, lines=fmt.lines) for s, f in targets.items()}
    try:
        _convert(opts, fmt, out, files, dest, writers, summary, images, dataset_split)
        for w in writers.values():
            w.close()
        hashed: dict[tuple[str, ...], str] = {}
        for s, w in writers.items():
            n = 0
            for n, record in enumerate(iter_records(w.tmp), 1):
                where = f"{targets[s]} record {n}"
                fmt.validate(record, dest, where)
                digest = w.digests[8 * (n - 1) : 8 * n].hex()
                check_record_bytes(fmt.referenced_files(record, dest), digest, where, hashed)
            if n != w.count:
                raise ExportError(f"{targets[s]}: {n} records read back of {w.count} written")
        # Owners first: a crash after this leaves our own name on files that were
        # either ours already or absent (another OUTPUT's are refused above unless
        # --overwrite), so the next export of this OUTPUT is not refused.
        record_owners(dest, identity, list(targets.values()), list(entries))
        for w in writers.values():
            w.commit()
    finally:
        for w in writers.values():
            w.discard()
    if entries:
        merge_dataset_info(dest, entries, overwrite=opts.overwrite)
    summary.records = {s: w.count for s, w in writers.items()}
    return summary


def _convert(
    opts: ExportOptions,
    fmt: ExportFormat,
    out: Any,
    files: list[str],
    dest: Path,
    writers: dict[str, _JsonListWriter],
    summary: ExportSummary,
    images: bool,
    dataset_split: str,
) -> None:
    """Stream the rows, write each clip's frames once, and the record ``fmt`` makes of
    each row (or, for those it keeps, such as ``frames``' one index line per clip, at the
    end). ``images``: the output holds image rows (every row must); ``dataset_split``:
    the converted dataset split, for formats that record it."""
    from vidray.schema import flatten_clip_row

    # (source, video, clip) -> the content hash of its frames: rows of one clip must
    # agree; and the folders written (or found whole) so far. No frame bytes are kept.
    clips: dict[tuple[Any, ...], str] = {}
    written: set[str] = set()
    root = fmt.frames_root(images)
    for clip_row in _iter_rows(out, files):
        for row in flatten_clip_row(clip_row):
            _convert_row(opts, fmt, row, dest, root, writers, summary, images, dataset_split,
                         clips, written)  # fmt: skip
    for split, entry, digest in fmt.finish():
        writers[split].write(entry, digest)


def _convert_row(
    opts: ExportOptions,
    fmt: ExportFormat,
    row: dict[str, Any],
    dest: Path,
    root: str,
    writers: dict[str, _JsonListWriter],
    summary: ExportSummary,
    images: bool,
    dataset_split: str,
    clips: dict[tuple[Any, ...], str],
    written: set[str],
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
    placed = Placement(rel_folder, paths, shown, split, dataset_split, stamps, digest)
    record = fmt.add(row, placed)
    if record is not None:
        writers[split].write(record, digest)
