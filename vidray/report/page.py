"""The report's HTML: tables, the contact sheets of the sampled rows (their stored JPEG
bytes embedded) and the page around them."""

from __future__ import annotations

import base64
import html
import json
from typing import Any

from vidray.report.plots import histogram, throughput
from vidray.report.tally import Errors, Tally, _id_rank

#: Frames shown per sheet (evenly chosen when more), and the most JPEG bytes a sheet
#: embeds (fewer frames when they would pass it): the page holds at most
#: SAMPLE_ROWS * SHEET_BYTES of frames, plus a frame per sheet that is larger on its own,
#: whatever --size.
SHEET_FRAMES = 16
SHEET_BYTES = 256 * 1024


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
