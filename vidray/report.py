"""``vidray report OUTPUT [DEST]``: one self-contained HTML page about an OUTPUT.

The page shows what was produced and what was lost: counts per source and split,
errors by reason with example ids and messages, contact sheets of the sampled frames
(with their timestamps) and the conversation of a deterministic sample of rows,
histograms of frames per row, clip length and video duration, and the run's
throughput over time from the unit records' commit times.

Everything is read in one streaming pass over the committed data files
(``vidray.output.read``; both layouts, flattened with ``schema.flatten_clip_row``):
memory holds the sample's rows (a few dozen frames), counters of rounded values for the
histograms (bounded by their range, not by the number of rows), and one small record
per unit. Charts are inline SVG
(``vidray.charts``) and the contact sheets embed the frames' stored JPEG bytes as
``data:`` URIs (nothing is decoded or drawn), so ``index.html`` is the whole report: it
can be mailed, attached to a ticket or opened offline.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import heapq
import html
import json
import math
import os
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

from vidray import charts

#: Rows shown as contact sheets; frames shown per sheet (evenly chosen when more), and
#: the most JPEG bytes a sheet embeds (fewer frames when they would pass it): the page
#: holds at most SAMPLE_ROWS * SHEET_BYTES of frames, plus a frame per sheet that is
#: larger on its own, whatever --size.
SAMPLE_ROWS = 6
SHEET_FRAMES = 16
SHEET_BYTES = 256 * 1024
#: Example ids and messages kept per error reason.
ERROR_EXAMPLES = 3
#: Resolution of the duration histograms' counters (seconds): bounds their size.
DURATION_STEP = 0.1
DEFAULT_DEST = "vidray-report"
PAGE = "index.html"


class ReportError(Exception):
    """The report cannot be made; the message is one line."""


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


# --------------------------------------------------------------------------- charts


def _bins(counts: Counter, n: int) -> list[tuple[float, float, int]]:
    """``n`` equal bins over the counted values' range (one unit around a single
    value), as (start, end, count); empty bins left out."""
    lo, hi = min(counts), max(counts)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / n
    binned: Counter[int] = Counter()
    for value, c in counts.items():
        binned[min(int((value - lo) / width), n - 1)] += c
    return [(lo + k * width, lo + (k + 1) * width, binned[k]) for k in sorted(binned)]


def histogram(counts: Counter, title: str, xlabel: str, *, integer: bool = False) -> str | None:
    """An SVG histogram of counted values: a bar per value when ``integer`` (and at most
    64 of them), else up to 40 equal bins; None when nothing was counted."""
    if not counts:
        return None
    ylabel = "rows" if "row" in title else "count"
    values = sorted(counts)
    if integer and len(values) <= 64:
        bars = [charts.Bar(v - 0.4, v + 0.4, counts[v], f"{v} {xlabel}: {counts[v]} {ylabel}")
                for v in values]  # fmt: skip
        xticks: list[float] | None = charts.thinned(values)
    else:
        bars = [
            charts.Bar(a, b, c, f"{charts.number(a)} to {charts.number(b)} {xlabel}: {c} {ylabel}")
            for a, b, c in _bins(counts, min(40, max(5, len(values))))
        ]
        xticks = None
    return charts.bar_chart(bars, title=title, xlabel=xlabel, ylabel=ylabel, xticks=xticks)


def throughput(units: list[Any]) -> tuple[str | None, str]:
    """An SVG of the cumulative samples and rows committed over the run's time, and a
    line on the rate; (None, why) when the unit records carry no commit time."""
    timed = sorted((u.committed_at, u.samples, u.rows) for u in units if u.committed_at)
    if not timed:
        return None, (
            "no commit times in the unit records (written by a vidray before commit times were "
            "recorded): no throughput chart"
        )
    t = [at - timed[0][0] for at, _, _ in timed]
    samples = list(accumulate(n for _, n, _ in timed))
    rows = list(accumulate(n for _, _, n in timed))
    svg = charts.step_chart(
        [charts.Series("samples", list(zip(t, samples, strict=True))),
         charts.Series("rows", list(zip(t, rows, strict=True)))],
        title="Throughput over time", xlabel="seconds since the first unit committed",
        ylabel="committed",
    )  # fmt: skip
    span = t[-1]
    rate = f"{samples[-1] / span:.2f} samples/s" if span > 0 else "all units in one instant"
    note = f"{len(timed)} of {len(units)} units timed over {span:.1f} s: {rate}"
    return svg, note


def _evenly(items: list[int], k: int) -> list[int]:
    """``k >= 2`` of ``items`` evenly spread, the first and the last included."""
    step = (len(items) - 1) / (k - 1)
    return [items[round(j * step)] for j in range(k)]


def sheet_frames(row: dict[str, Any], budget: int = SHEET_BYTES) -> list[int]:
    """The indices of the frames a contact sheet shows, in time order: at most
    ``SHEET_FRAMES``, evenly chosen, and fewer while their JPEG bytes pass ``budget``
    (at least one frame, whatever its size)."""
    frames, stamps = row["frames"], row["frame_timestamps"]
    order = sorted(range(len(frames)), key=lambda i: stamps[i] if stamps else i)
    for k in range(min(len(order), SHEET_FRAMES), 1, -1):
        chosen = _evenly(order, k)
        if sum(len(frames[i]) for i in chosen) <= budget:
            return chosen
    return order[:1]


def caption(row: dict[str, Any], i: int) -> str:
    """Frame ``i``'s timestamp (an image row: its position)."""
    stamps = row["frame_timestamps"]
    return f"{stamps[i]:.2f} s" if stamps else f"image {i + 1}"


def contact_sheet(row: dict[str, Any], chosen: list[int]) -> str:
    """A grid of the ``chosen`` frames, their JPEG bytes embedded as stored (nothing is
    decoded or re-encoded), each captioned by ``caption``."""
    figures = []
    for i in chosen:
        data = base64.b64encode(row["frames"][i]).decode()
        text = caption(row, i)
        figures.append(
            f'<figure><img src="data:image/jpeg;base64,{data}" alt="{_e(row["id"])} {_e(text)}">'
            f"<figcaption>{_e(text)}</figcaption></figure>"
        )
    return f'<div class="sheet">{"".join(figures)}</div>'


# --------------------------------------------------------------------------- page

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left;
         vertical-align: top; }
th { background: #f2f2f2; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.charts svg { width: 48%; height: auto; margin: .5%; }
.sample { border: 1px solid #ddd; padding: .6em; margin: 1em 0; }
.sheet { display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr));
         gap: 6px; margin: .5em 0; }
.sheet figure { margin: 0; } .sheet img { width: 100%; display: block; }
.sheet figcaption { font-size: 11px; text-align: center; color: #555; }
.turn { margin: .2em 0; white-space: pre-wrap; } .from { font-weight: bold; }
.muted { color: #777; } code { background: #f4f4f4; padding: 0 .2em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[Any]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if k in numeric else f"<td>{_e(c)}</td>"
            for k, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _sample(rid: str, row: dict[str, Any]) -> str:
    """One sampled row: its id, video, clip, frame count and size, contact sheet and
    conversation."""
    clip = ""
    if row["clip_start"] is not None or row["clip_end"] is not None:
        clip = f", clip {row['clip_start']} to {row['clip_end']} s"
    chosen = sheet_frames(row)
    n = len(row["frames"])
    shown = f" ({len(chosen)} shown)" if len(chosen) < n else ""
    turns = "".join(
        f'<div class="turn"><span class="from">{_e(t["from"])}:</span> {_e(t["value"])}</div>'
        for t in row["conversations"]
    )
    return (
        f'<div class="sample"><div><code>{_e(rid)}</code> {_e(row["video"])}{_e(clip)}, '
        f"{n} frames{shown}, {row['width']}x{row['height']}</div>"
        f"{contact_sheet(row, chosen)}{turns}</div>"
    )


def render(
    *,
    output: str,
    manifest: dict[str, Any] | None,
    tally: Tally,
    errors: Errors,
    units: list[Any],
) -> str:
    parts = [f"<h1>vidray report: {_e(output)}</h1>"]
    if manifest is None:
        parts.append(
            '<p class="muted">No _SUCCESS: a job still running or stopped; this shows '
            "the units committed so far.</p>"
        )
    else:
        parts.append(
            "<p>"
            + ", ".join(
                f"{k} <code>{_e(manifest.get(k))}</code>"
                for k in ("source", "schema_version", "committed_at", "elapsed_s")
                if manifest.get(k) is not None
            )
            + "</p>"
        )
        options = manifest.get("options") or {}
        if options:
            opts = [[k, json.dumps(v)] for k, v in sorted(options.items())]
            parts.append("<details><summary>options</summary>" + _table(["option", "value"], opts)
                         + "</details>")  # fmt: skip

    counts, examples = errors.by_reason, errors.examples
    parts.append("<h2>Counts per source and split</h2>")
    splits = {src: split for src, split in tally.rows}
    sources = sorted({*splits, *errors.by_source})
    rows = [
        [src, splits.get(src, "?"), tally.rows.get((src, splits.get(src, "?")), 0),
         errors.by_source.get(src, 0)]
        for src in sources
    ]  # fmt: skip
    parts.append(_table(["source", "split", "rows", "error rows"], rows, {2, 3}))
    total_rows = sum(tally.rows.values())
    parts.append(
        f"<p>{total_rows} rows ({tally.images} image rows), {sum(counts.values())} error rows"
        + (
            f"; {manifest['counts'].get('samples')} input samples"
            if manifest and manifest.get("counts")
            else ""
        )
        + ".</p>"
    )

    parts.append("<h2>Errors by reason</h2>")
    if counts:
        erows = []
        for reason, n in counts.most_common():
            shown = "\n".join(f"{ex['id']}: {ex['message']}" for ex in examples.get(reason, []))
            erows.append([reason, n, shown])
        parts.append(_table(["reason", "rows", "examples (id: message)"], erows, {1}))
    else:
        parts.append("<p>No errors.</p>")

    parts.append("<h2>Distributions</h2><div class=charts>")
    svgs = [
        histogram(tally.frames_per_row, "Frames per row", "frames", integer=True),
        histogram(tally.clip_length, "Clip length (rows)", "seconds"),
        histogram(tally.video_duration, "Video duration (videos)", "seconds"),
    ]
    names = ["frames per row", "clip length", "video duration"]
    for svg, name in zip(svgs, names, strict=True):
        parts.append(svg or f'<p class="muted">No {name} data.</p>')
    parts.append("</div>")

    parts.append("<h2>Throughput</h2>")
    svg, note = throughput(units)
    parts.append(f'<div class="charts">{svg or ""}<p>{_e(note)}</p></div>')

    parts.append(
        f"<h2>Sample rows</h2><p class=muted>The {len(tally.sample)} rows of smallest "
        "sha256(id): the same rows on every run.</p>"
    )
    parts += [
        _sample(rid, row) for _, rid, row in sorted(tally.sample, key=lambda x: _id_rank(x[1]))
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>vidray report: {_e(output)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def report(output: str, dest: str | None = None) -> Path:
    """Write ``DEST/index.html`` for OUTPUT; returns its path. Raises ReportError,
    OutputError or StorageError with a one-line message."""
    from vidray.io import storage
    from vidray.output import read

    target = Path((dest or DEFAULT_DEST).removeprefix("file://"))
    if "://" in str(dest or ""):
        raise ReportError(f"DEST must be a local directory: {dest}")
    target = target.resolve()
    storage.check_folder(storage.location(str(target)), "DEST", write=True)
    out = storage.location(output)
    storage.check_reachable(out)
    if out.scheme == "file" and not os.path.isdir(out.path):
        raise ReportError(f"{out.display()} does not exist")
    files, manifest = read.data_files(out, warn=True)
    source = (manifest or {}).get("source")
    if source is None and files:
        source = (read.first_row(out, files) or {}).get("source")
    rows = read.iter_rows(out, files)
    split = read.dataset_split(out, manifest, source) if source else "?"
    tally = tally_rows(rows, split)
    errors = read_errors(out, _error_files(out))
    page = render(output=out.display(), manifest=manifest, tally=tally, errors=errors,
                  units=_units(out))  # fmt: skip
    target.mkdir(parents=True, exist_ok=True)
    path = target / PAGE
    tmp = path.with_name(f".{PAGE}.tmp-{uuid.uuid4().hex}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- command line


def add_report_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write an HTML page about an OUTPUT: counts, errors, sample frames, histograms, "
        "throughput",
        description="Write DEST/index.html, one self-contained page (SVG charts, frames "
        "embedded as JPEG) "
        "about a vidray OUTPUT (local or s3://): rows per source and split, errors by reason "
        "with examples, contact sheets of a deterministic sample of rows with their "
        "timestamps and conversations, histograms of frames per row, clip length and video "
        "duration, and the run's throughput over time.",
    )
    p.add_argument("output", metavar="OUTPUT", help="a vidray output root: local, file:// or s3://")
    p.add_argument(
        "dest",
        metavar="DEST",
        nargs="?",
        default=None,
        help=f"local directory for index.html (default: ./{DEFAULT_DEST}; never inside OUTPUT, "
        "which stays as its commit left it)",
    )


def run_report(args: argparse.Namespace) -> int:
    from vidray.io.storage import StorageError
    from vidray.output import OutputError

    try:
        path = report(args.output, args.dest)
    except (ReportError, OutputError, StorageError, ValueError) as e:
        print(f"vidray: error: {e}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    return 0
