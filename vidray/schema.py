"""The one output row of vidray and its explicit Arrow schemas.

Every Parquet file vidray writes uses one of the two schemas below; nothing is
inferred from data. ``docs/output-schema.md`` documents the same columns for readers.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

#: Bump when a column changes meaning or type; written into ``_SUCCESS``.
#: 2: image rows (``frames`` the image(s), ``frame_timestamps`` empty) and the
#: ``label`` and ``classname`` columns; files of version 1 read with them null.
SCHEMA_VERSION = 2

TURN = pa.struct([pa.field("from", pa.string()), pa.field("value", pa.string())])

#: One row per conversation, with its frames already sampled and JPEG-encoded. An image
#: row (image datasets) has its image or images in ``frames`` and no time axis:
#: ``frame_timestamps`` is empty and the clip and video columns are null.
OUTPUT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("video", pa.string(), nullable=False),
        pa.field("clip_start", pa.float64()),
        pa.field("clip_end", pa.float64()),
        pa.field("conversations", pa.list_(TURN), nullable=False),
        pa.field("query", pa.string()),
        pa.field("frames", pa.list_(pa.binary()), nullable=False),
        pa.field("frame_timestamps", pa.list_(pa.float64()), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("video_duration", pa.float64()),
        pa.field("video_fps", pa.float64()),
        #: Classification sets: the class id and the class name (null elsewhere).
        pa.field("label", pa.int64()),
        pa.field("classname", pa.string()),
    ]
)

#: One question (conversation) of a clip row: what differs between the rows of one clip.
QUESTION = pa.struct(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("conversations", pa.list_(TURN), nullable=False),
        pa.field("query", pa.string()),
    ]
)

#: Columns a clip row shares with every question it carries.
CLIP_COLUMNS = [f.name for f in OUTPUT_SCHEMA if f.name not in ("id", "conversations", "query")]

#: The ``clips`` layout: one row per clip (or image), its frames stored once, and its
#: questions in ``questions``; each question is still one training sample
#: (``flatten_clip_row`` gives the ``OUTPUT_SCHEMA`` rows). ``clip_id`` is the id of the
#: clip: ``<source>:<video>`` or ``<source>:<video>@<start>-<end>``.
CLIP_SCHEMA = pa.schema(
    [pa.field("clip_id", pa.string(), nullable=False)]
    + [OUTPUT_SCHEMA.field(c) for c in CLIP_COLUMNS]
    + [pa.field("questions", pa.list_(QUESTION), nullable=False)]
)

#: Output layouts: ``rows`` (one row per question, OUTPUT_SCHEMA) or ``clips``
#: (one row per clip, CLIP_SCHEMA).
LAYOUTS = ("rows", "clips")


def is_clip_row(row: dict) -> bool:
    return "questions" in row


def flatten_clip_row(row: dict) -> list[dict]:
    """The ``OUTPUT_SCHEMA`` rows of a clip row (a row of that schema is returned as
    it is): one per question, in order, sharing the clip's frames."""
    if not is_clip_row(row):
        return [row]
    shared = {c: row[c] for c in CLIP_COLUMNS}
    return [
        {"id": q["id"], **shared, "conversations": q["conversations"], "query": q["query"]}
        for q in row["questions"]
    ]


def layout_of(schema: pa.Schema) -> str:
    """``clips`` for a file of CLIP_SCHEMA, else ``rows``."""
    return "clips" if "questions" in schema.names else "rows"


#: One row per input sample that could not be converted.
ERROR_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("video", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
    ]
)


class Reason(StrEnum):
    """Short codes of ``ERROR_SCHEMA.reason``, each with its meaning (a ``StrEnum``: a
    member is its code, the string written in error rows). ``docs/output-schema.md``
    lists them as ``reason_table()`` gives them."""

    description: str

    def __new__(cls, code: str, description: str) -> Reason:
        member = str.__new__(cls, code)
        member._value_ = code
        member.description = description
        return member

    MISSING_VIDEO = "missing_video", "the annotation names a video that is not in the input"
    MISSING_IMAGE = "missing_image", "the annotation names an image that is not in the input"
    MISSING_ANNOTATION = "missing_annotation", "a video has no annotation next to it"
    BAD_ANNOTATION = (
        "bad_annotation",
        "the annotation is malformed or lacks a required field (e.g. empty `text`, no `qAndA`)",
    )
    BAD_MEMBER = (
        "bad_member",
        "a tar member that is not a regular file (link, device) or has an unexpected name",
    )
    DECODE_ERROR = (
        "decode_error",
        "the video or image could not be opened or decoded (a truncated or corrupt image, "
        "unreadable storage)",
    )
    NO_VIDEO_STREAM = "no_video_stream", "the file has no video stream"
    BAD_SPAN = "bad_span", "the annotated span lies outside the video"
    TOO_LARGE = (
        "too_large",
        "the header claims a frame or image size above 8K (8192x4608 pixels) or a duration above "
        "24 h, or an image file is above 128 MiB",
    )
    DECODE_CRASH = (
        "decode_crash",
        "the decoder process died on this video, on every attempt (`--decode-attempts`); every "
        "span of the video in its unit gets it",
    )
    TIMEOUT = (
        "timeout",
        "decoding this video outlived `--sample-timeout` per span asked of it, on every attempt",
    )
    FILTERED_DURATION = (
        "filtered_duration",
        "the container's duration is outside `--min-duration`/`--max-duration` (read from the "
        "header; nothing is decoded)",
    )
    BAD_SIZE = (
        "bad_size",
        "`--min-pixels`/`--max-pixels` cannot size the frame or image: its aspect ratio is above "
        "200 (refused as qwen-vl-utils' `smart_resize` refuses it), or the rule gives a size "
        "outside the budget",
    )


#: Code -> meaning, of every ``Reason``.
REASONS = {r.value: r.description for r in Reason}


def reason_table() -> str:
    """The Markdown table of the reasons in ``docs/output-schema.md``."""
    lines = ["| reason | meaning |", "|---|---|"]
    lines += [f"| `{r.value}` | {r.description} |" for r in Reason]
    return "\n".join(lines) + "\n"
