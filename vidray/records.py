"""The records that travel between the stages, and their Arrow form: the only module
that converts them.

    Source.samples  -> Sample       one video (or span of it) with its conversations
    read task       -> WorkUnit     consecutive samples of one shard: one output file
    decoder process -> VideoFrames  (``vidray.media.decode``) the frames of each clip
    convert stage   -> UnitResult   what a unit committed: counts and files

A ``WorkUnit`` crosses from a read task to a convert task as one Arrow row (Ray Data
may merge or slice blocks but never splits a row, so a unit reaches one convert call
whole), and its ``UnitResult`` comes back as one row. Conversations are nested Arrow
structs, parsed once; error counts are (reason, count) pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import pyarrow as pa

from vidray.io.storage import FileRef
from vidray.schema import TURN, Reason


@dataclass(frozen=True)
class Conversation:
    """The text of one output row."""

    id: str
    turns: tuple[tuple[str, str], ...]  # (from, value)
    query: str | None
    #: Classification sets (Caltech101, mini-ImageNet): the class id and name.
    label: int | None = None
    classname: str | None = None


class SampleError(NamedTuple):
    """Why a sample cannot be converted: its error rows' reason and message."""

    reason: Reason
    message: str


@dataclass
class Sample:
    """One video (or span of it), or one image or set of images, to decode with the
    conversations it carries, or an input error. ``video`` names it in rows and errors;
    its bytes are ``data`` (small clips carried inside a shard), else the decoder opens
    ``ref``, else the stage's videos root joined with ``video``. An ``image`` sample is
    the image file ``video`` under that root, or the images carried in ``images``
    (M3IT's base64 images, decoded by the source)."""

    id: str
    video: str
    data: bytes | None = None
    conversations: list[Conversation] = field(default_factory=list)
    clip: tuple[float | None, float | None] = (None, None)
    error: SampleError | None = None
    #: ``s``: ``clip`` in seconds; ``frame``: in frame indices of the stream.
    clip_unit: Literal["s", "frame"] = "s"
    #: ``video``: a video file (or ``data``); ``frames``: a folder of frame images;
    #: ``image``: a still image (or several, in ``images``), no time axis.
    media: Literal["video", "frames", "image"] = "video"
    ref: FileRef | None = None
    images: list[bytes] = field(default_factory=list)
    #: Bytes it counts for in the cut of units besides those it carries: a tar member
    #: named by range that would travel inline from S3, so that a shard is cut into the
    #: same units wherever it lies (set by the source; not sent to the decoder).
    weight: int = 0

    @property
    def row_ids(self) -> list[str]:
        """The ids of the rows it yields: one per conversation, else its own."""
        return [c.id for c in self.conversations] or [self.id]


@dataclass
class WorkUnit:
    """At most ``samples_per_file`` consecutive samples of one shard: one convert call,
    one data file and one error file, named after the shard and ``index``."""

    name: str
    shard: str
    index: int
    #: The shard's last unit.
    last: bool
    samples: list[Sample]
    #: ``--retry-failed``: the ids of the rows to redo; the unit's other rows are kept.
    retry: tuple[str, ...] | None = None


@dataclass
class UnitResult:
    """What one committed unit holds; also its commit record ``__units/<name>.json``."""

    unit: str
    shard: str
    index: int
    last: bool
    samples: int
    rows: int
    frames: int
    errors: dict[str, int]
    data_file: str | None
    error_file: str | None
    #: Decoded samples by the decoder that made their frames (``cpu``, ``nvdec``).
    decoders: dict[str, int] = field(default_factory=dict)
    #: With ``--decoder auto|nvdec``: why samples went to the CPU (``no_gpu``,
    #: ``cost_model``, ``nvdec_codec:vp8``, ``nvdec_failed:...``), by reason.
    cpu_reasons: dict[str, int] = field(default_factory=dict)
    #: Samples by the worker group whose task converted them (``cpu``, ``gpu``).
    groups: dict[str, int] = field(default_factory=dict)
    #: When the unit was committed (Unix seconds, UTC); None in records written before
    #: it existed. ``vidray report`` plots the run's throughput from it.
    committed_at: float | None = None
    #: Distinct clips among the rows (the rows of one sample share one clip's frames);
    #: records written before the clips layout have none.
    clips: int = 0

    def to_json(self) -> dict[str, Any]:
        d = {**self.__dict__, "errors": dict(sorted(self.errors.items()))}
        for key in _COUNTS:
            d[key] = dict(sorted(d[key].items()))
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> UnitResult:
        errors = d["errors"]
        if isinstance(errors, str):  # records written before 0.2 held a JSON string
            import json

            errors = json.loads(errors)
        counts = {k: {str(a): int(b) for a, b in d.get(k, {}).items()} for k in _COUNTS}
        return cls(**{**d, **counts, "errors": {str(k): int(v) for k, v in errors.items()}})


_COUNTS = ("decoders", "cpu_reasons", "groups")


# ------------------------------------------------------------------------ Arrow

_CONVERSATION = pa.struct(
    [
        pa.field("id", pa.string()),
        pa.field("turns", pa.list_(TURN)),
        pa.field("query", pa.string()),
        pa.field("label", pa.int64()),
        pa.field("classname", pa.string()),
    ]
)
_SAMPLE = pa.struct(
    [
        pa.field("id", pa.string()),
        pa.field("video", pa.string()),
        pa.field("data", pa.binary()),
        pa.field("conversations", pa.list_(_CONVERSATION)),
        pa.field("clip_start", pa.float64()),
        pa.field("clip_end", pa.float64()),
        pa.field("clip_unit", pa.string()),
        pa.field("media", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("message", pa.string()),
        pa.field("ref_root", pa.string()),
        pa.field("ref_rel", pa.string()),
        pa.field("ref_offset", pa.int64()),
        pa.field("ref_size", pa.int64()),
        pa.field("images", pa.list_(pa.binary())),
    ]
)
WORK_SCHEMA = pa.schema(
    [
        pa.field("unit", pa.string()),
        pa.field("shard", pa.string()),
        pa.field("index", pa.int64()),
        pa.field("last", pa.bool_()),
        pa.field("samples", pa.list_(_SAMPLE)),
        pa.field("retry", pa.list_(pa.string())),
    ]
)
_COUNT = pa.struct([pa.field("reason", pa.string()), pa.field("count", pa.int64())])
RESULT_SCHEMA = pa.schema(
    [
        pa.field("unit", pa.string()),
        pa.field("shard", pa.string()),
        pa.field("index", pa.int64()),
        pa.field("last", pa.bool_()),
        pa.field("samples", pa.int64()),
        pa.field("rows", pa.int64()),
        pa.field("frames", pa.int64()),
        pa.field("errors", pa.list_(_COUNT)),
        pa.field("data_file", pa.string()),
        pa.field("error_file", pa.string()),
        pa.field("decoders", pa.list_(_COUNT)),
        pa.field("cpu_reasons", pa.list_(_COUNT)),
        pa.field("groups", pa.list_(_COUNT)),
        pa.field("committed_at", pa.float64()),
        pa.field("clips", pa.int64()),
    ]
)


def _sample_row(s: Sample) -> dict[str, Any]:
    ref = s.ref
    return {
        "id": s.id,
        "video": s.video,
        "data": s.data,
        "conversations": [
            {
                "id": c.id,
                "turns": [{"from": f, "value": v} for f, v in c.turns],
                "query": c.query,
                "label": c.label,
                "classname": c.classname,
            }
            for c in s.conversations
        ],
        "clip_start": s.clip[0],
        "clip_end": s.clip[1],
        "clip_unit": s.clip_unit,
        "media": s.media,
        "reason": s.error[0] if s.error else None,
        "message": s.error[1] if s.error else None,
        "ref_root": ref.root if ref else None,
        "ref_rel": ref.rel if ref else None,
        "ref_offset": ref.offset if ref else None,
        "ref_size": ref.size if ref else None,
        "images": s.images,
    }


def _sample(d: dict[str, Any]) -> Sample:
    ref = None
    if d["ref_root"] is not None:
        ref = FileRef(d["ref_root"], d["ref_rel"], d["ref_offset"], d["ref_size"])
    return Sample(
        id=d["id"],
        video=d["video"],
        data=d["data"],
        conversations=[
            Conversation(
                c["id"],
                tuple((t["from"], t["value"]) for t in c["turns"]),
                c["query"],
                c["label"],
                c["classname"],
            )
            for c in d["conversations"]
        ],
        clip=(d["clip_start"], d["clip_end"]),
        error=SampleError(Reason(d["reason"]), d["message"]) if d["reason"] else None,
        clip_unit=d["clip_unit"],
        media=d["media"],
        ref=ref,
        images=d["images"] or [],
    )


def units_to_arrow(units: Iterable[WorkUnit]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "unit": u.name,
                "shard": u.shard,
                "index": u.index,
                "last": u.last,
                "samples": [_sample_row(s) for s in u.samples],
                "retry": None if u.retry is None else list(u.retry),
            }
            for u in units
        ],
        schema=WORK_SCHEMA,
    )


def units_from_arrow(table: pa.Table) -> list[WorkUnit]:
    return [
        WorkUnit(
            name=r["unit"],
            shard=r["shard"],
            index=r["index"],
            last=r["last"],
            samples=[_sample(s) for s in r["samples"]],
            retry=None if r["retry"] is None else tuple(r["retry"]),
        )
        for r in table.to_pylist()
    ]


def results_to_arrow(results: Iterable[UnitResult]) -> pa.Table:
    rows = []
    for r in results:
        row = dict(r.__dict__)
        for key in ("errors", *_COUNTS):
            row[key] = [{"reason": k, "count": v} for k, v in sorted(getattr(r, key).items())]
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=RESULT_SCHEMA)


def result_from_row(row: dict[str, Any]) -> UnitResult:
    """A row of ``RESULT_SCHEMA`` (as ``iter_rows`` gives it) as a ``UnitResult``."""
    counts = {k: {e["reason"]: e["count"] for e in row[k]} for k in ("errors", *_COUNTS)}
    return UnitResult(**{**row, **counts})
