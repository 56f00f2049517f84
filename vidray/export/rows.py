"""Reading a vidray OUTPUT for an export, through ``vidray.output.read`` (the one
reader of OUTPUT): its committed data files, their rows (either layout, one batch of
frames in memory at a time), the first row and the dataset split it was converted
from. What is not a vidray OUTPUT is an ``OutputError``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vidray.export.errors import ExportError


def _data_files(out: Any) -> tuple[list[str], dict[str, Any] | None]:
    """The committed data files of OUTPUT and its manifest (``output.read.data_files``,
    with a warning for an OUTPUT without ``_SUCCESS``)."""
    from vidray.output import read

    return read.data_files(out, warn=True)


def _iter_rows(out: Any, files: list[str]) -> Iterator[dict[str, Any]]:
    """Rows of ``files``, one per question in either layout, a few at a time
    (``output.read.iter_rows``): memory holds one batch of frames, not the dataset."""
    from vidray.output import read

    return read.iter_rows(out, files)


def _first_row(out: Any, files: list[str]) -> dict[str, Any]:
    """The output's first row: its source when no ``_SUCCESS`` says it, and whether the
    output holds images or videos."""
    from vidray.output import read

    row = read.first_row(out, files)
    if row is None:
        raise ExportError(f"{out.display(files[0])} has no rows")
    return row


def is_image_row(row: dict[str, Any]) -> bool:
    """An image row has its image(s) in ``frames`` and no time axis (a video row has a
    timestamp per frame)."""
    return not row["frame_timestamps"]


def _dataset_split(out: Any, manifest: dict[str, Any] | None, source: str) -> str:
    """The dataset split the output was converted from (``--split``, else the source's
    default): the ``split`` of a ``clip`` record when the export makes no split."""
    from vidray.output import read

    return read.dataset_split(out, manifest, source)
