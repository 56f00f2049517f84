"""Streaming access to video blobs carried inside shards: tar members, parquet rows.

Nothing is extracted to disk and member names are never used as paths: a tar is read
as a stream, and members are grouped WebDataset-style by key (the name without its
last extension).
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow.parquet as pq


@dataclass
class TarGroup:
    """The members sharing one key, e.g. ``123.mp4`` and ``123.json``."""

    key: str
    files: dict[str, bytes] = field(default_factory=dict)
    #: Members that are not regular files (links, devices, ...), by extension.
    rejected: dict[str, str] = field(default_factory=dict)
    #: Members too large to carry (``by_range``), by extension: (offset, size) of their
    #: bytes in the tar, to be read from there by ranges.
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)


def split_key(name: str) -> tuple[str, str]:
    """``dir/123.mp4`` -> (``dir/123``, ``mp4``)."""
    base, dot, ext = name.rpartition(".")
    if not dot or "/" in ext:
        return name, ""
    return base, ext.lower()


def iter_tar_groups(
    fileobj: IO[bytes], complete: set[str], by_range: tuple[str, int] | None = None
) -> Iterator[TarGroup]:
    """Yield member groups as soon as they hold every extension in ``complete``;
    leftovers (an mp4 without json, ...) come at the end of the archive, in order.

    ``by_range=(ext, limit)``: a member with extension ``ext`` above ``limit`` bytes is
    not read; its place in the tar goes into ``ranges`` (the file must seek, and its
    bytes are skipped by seeking past them)."""
    pending: dict[str, TarGroup] = {}
    mode = "r:" if by_range is not None else "r|"
    with tarfile.open(fileobj=fileobj, mode=mode) as tar:
        for member in tar:
            if member.isdir():
                continue
            key, ext = split_key(member.name)
            group = pending.setdefault(key, TarGroup(key))
            if not member.isfile():
                kind = "link" if member.issym() or member.islnk() else "special file"
                group.rejected[ext] = f"member {member.name!r} is a {kind}"
            elif by_range is not None and ext == by_range[0] and member.size > by_range[1]:
                group.ranges[ext] = (member.offset_data, member.size)
            else:
                f = tar.extractfile(member)
                group.files[ext] = f.read() if f is not None else b""
            if complete <= group.files.keys() | group.ranges.keys():
                yield pending.pop(key)
    yield from pending.values()


def count_tar_keys(fileobj: IO[bytes], cap: int) -> int:
    """Number of distinct member keys, reading headers only (the file must seek)."""
    keys: set[str] = set()
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        for member in tar:
            if member.isdir():
                continue
            keys.add(split_key(member.name)[0])
            if len(keys) > cap:
                break
    return min(len(keys), cap)


def iter_parquet_rows(
    fileobj: IO[bytes], columns: list[str] | None, rows_per_read: int = 1
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row_index, row)`` reading only ``columns`` (None: all), one row group at
    a time."""
    pf = pq.ParquetFile(fileobj)
    missing = [c for c in columns or () if c not in pf.schema_arrow.names]
    if missing:
        raise KeyError(f"parquet file lacks column(s) {missing}")
    index = 0
    for batch in pf.iter_batches(batch_size=rows_per_read, columns=columns, use_threads=False):
        for row in batch.to_pylist():
            yield index, row
            index += 1


def parquet_num_rows(fileobj: IO[bytes]) -> int:
    return pq.ParquetFile(fileobj).metadata.num_rows


def member_ref(shard: str, name: str) -> str:
    """The reference of a tar member or parquet row, relative to INPUT."""
    return f"{shard}#{name}"
