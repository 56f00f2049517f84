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

The package, in the order an export runs: ``options`` (what is asked, splits), ``rows``
(reading OUTPUT), ``files`` (frame folders, record files), ``formats`` (one class per
format, the ``FORMATS`` registry), ``validate`` (the checks validators share, the byte
check), ``owners`` (the ownership sidecar, ``dataset_info.json``), ``run`` (``export``)
and ``cli`` (the ``vidray export`` command).
"""

from __future__ import annotations

from vidray.export.cli import add_export_parser, run_export
from vidray.export.errors import ExportError
from vidray.export.files import (
    FRAMES_DIR,
    folder_name,
    frame_file,
    frames_digest,
    iter_records,
    split_file,
)
from vidray.export.formats import (
    FORMATS,
    IMAGE_TOKEN,
    LEAD,
    LLAVA_VIDEO_DIR,
    ROLES,
    VIDEO_TOKEN,
    ClipFormat,
    ExportFormat,
    FramesFormat,
    LlamaFactoryFormat,
    LlavaFormat,
    Placement,
    dataset_info_entry,
)
from vidray.export.options import (
    ExportOptions,
    ExportSummary,
    assign_split,
    group_key,
    parse_split,
)
from vidray.export.owners import (
    DATASET_INFO,
    SIDECAR,
    check_owners,
    merge_dataset_info,
    output_identity,
    record_owners,
)

# The OUTPUT readers: vidray.output.read, by the names the export modules call.
from vidray.export.rows import _data_files, _dataset_split, _first_row, _iter_rows, is_image_row
from vidray.export.run import export
from vidray.export.validate import check_record_bytes

__all__ = [
    "DATASET_INFO",
    "FORMATS",
    "FRAMES_DIR",
    "IMAGE_TOKEN",
    "LEAD",
    "LLAVA_VIDEO_DIR",
    "ROLES",
    "SIDECAR",
    "VIDEO_TOKEN",
    "ClipFormat",
    "ExportError",
    "ExportFormat",
    "ExportOptions",
    "ExportSummary",
    "FramesFormat",
    "LlamaFactoryFormat",
    "LlavaFormat",
    "Placement",
    "_data_files",
    "_dataset_split",
    "_first_row",
    "_iter_rows",
    "add_export_parser",
    "assign_split",
    "check_owners",
    "check_record_bytes",
    "dataset_info_entry",
    "export",
    "folder_name",
    "frame_file",
    "frames_digest",
    "group_key",
    "is_image_row",
    "iter_records",
    "merge_dataset_info",
    "output_identity",
    "parse_split",
    "record_owners",
    "run_export",
    "split_file",
]
