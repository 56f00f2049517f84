"""The committed data files of an OUTPUT: the rows of a file's row groups (to split them
among readers), and the files as pyarrow paths for readers other than ``VidrayReader``."""

from __future__ import annotations

import pyarrow as pa

from vidray.io import storage
from vidray.output.manifests import committed_data_files
from vidray.output.read import DataFile


def _row_group_rows(loc: storage.Location, rel: str) -> list[int]:
    """Rows of each row group of a data file, from its footer."""
    with storage.open_read(loc, rel) as f:
        meta = DataFile(loc, rel, f).pf.metadata  # OutputError: not a vidray data file
        return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def parquet_files(output: str) -> tuple[list[str], pa.fs.FileSystem]:
    """The committed data files of OUTPUT as paths on a pyarrow filesystem, for
    ``ray.data.read_parquet(paths, filesystem=fs)`` (or ``pyarrow.dataset``): the
    files the reader reads, through vidray's storage (its S3 settings included)."""
    import pyarrow.fs as pafs

    loc = storage.location(output)
    paths = [loc.join(rel) for rel in committed_data_files(loc)]
    return paths, pafs.PyFileSystem(pafs.FSSpecHandler(loc.fs))
