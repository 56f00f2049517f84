"""What the report counts, in one streaming pass: rows per source and split, histogram
counters, the deterministic sample of rows, and the error rows by reason."""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

#: Rows shown as contact sheets: the sample ``tally_rows`` keeps.
SAMPLE_ROWS = 6
#: Example ids and messages kept per error reason.
ERROR_EXAMPLES = 3
#: Resolution of the duration histograms' counters (seconds): bounds their size.
DURATION_STEP = 0.1


@dataclass
class Tally:
    """What one pass over the rows keeps."""

    rows: Counter[tuple[str, str]] = field(default_factory=Counter)  # (source, split)
    frames_per_row: Counter[int] = field(default_factory=Counter)
    clip_length: Counter[float] = field(default_factory=Counter)
    video_duration: Counter[float] = field(default_factory=Counter)
    images: int = 0  # image rows (no time axis)
    #: The ``SAMPLE_ROWS`` rows of smallest id hash: a max-heap of (-hash, id, row).
    sample: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def _id_rank(rid: str) -> str:
    """A row's place in the sample order: sha256 of its id, so the sample is the same
    on every run and independent of file order and size."""
    return hashlib.sha256(rid.encode()).hexdigest()


def _negate(hexdigest: str) -> str:
    """An order-reversing key for a hex digest (heapq is a min-heap)."""
    return "".join("0123456789abcdef"[15 - int(c, 16)] for c in hexdigest)


def _bucket(seconds: float) -> float:
    return round(round(seconds / DURATION_STEP) * DURATION_STEP, 3)


def tally_rows(rows: Any, split: str) -> Tally:
    """One pass over flat rows: counts, histogram counters and the sample."""
    t = Tally()
    last_video: tuple[str, str] | None = None
    for row in rows:
        t.rows[(row["source"], split)] += 1
        t.frames_per_row[len(row["frames"])] += 1
        if not row["frame_timestamps"]:
            t.images += 1
        else:
            start, end = row["clip_start"], row["clip_end"]
            duration = row.get("video_duration")
            if start is not None or end is not None:
                length = (end if end is not None else duration or 0.0) - (start or 0.0)
            else:
                length = duration
            if length is not None and math.isfinite(length):
                t.clip_length[_bucket(length)] += 1
            video = (row["source"], row["video"])
            # rows of one video are consecutive within a unit: count each video once
            if video != last_video and duration is not None and math.isfinite(duration):
                t.video_duration[_bucket(duration)] += 1
            last_video = video
        key = (_negate(_id_rank(row["id"])), row["id"])
        item = (*key, row)
        if len(t.sample) < SAMPLE_ROWS:
            heapq.heappush(t.sample, item)
        elif key > t.sample[0][:2]:
            heapq.heapreplace(t.sample, item)
    return t


@dataclass
class Errors:
    by_reason: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))


def read_errors(out: Any, files: list[str]) -> Errors:
    """Error rows by reason and by source, with the first ``ERROR_EXAMPLES`` (id,
    message) of each reason, reading only those columns."""
    import pyarrow.parquet as pq

    from vidray.io import storage

    errors = Errors()
    for rel in files:
        with storage.open_read(out, rel) as f:
            pf = pq.ParquetFile(f)
            cols = ["id", "source", "reason", "message"]
            for batch in pf.iter_batches(batch_size=1024, columns=cols):
                for row in batch.to_pylist():
                    errors.by_reason[row["reason"]] += 1
                    errors.by_source[row["source"]] += 1
                    if len(errors.examples[row["reason"]]) < ERROR_EXAMPLES:
                        errors.examples[row["reason"]].append(row)
    return errors


def _error_files(out: Any) -> list[str]:
    from vidray.output import manifests

    return manifests.committed_error_files(out)


def _units(out: Any) -> list[Any]:
    from vidray.output import manifests

    return list(manifests.committed_units(out).values())
