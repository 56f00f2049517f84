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

    tally  one pass over the rows (counts, histogram counters, the sample), the errors
    plots  the SVG histograms and the throughput chart
    page   the HTML page: tables, contact sheets, the sampled rows
    run    ``report``: OUTPUT read, ``DEST/index.html`` written
    cli    the ``vidray report`` command

This package re-exports their public names.
"""

from __future__ import annotations

from vidray.report.cli import add_report_parser, run_report
from vidray.report.page import (
    SHEET_BYTES,
    SHEET_FRAMES,
    caption,
    contact_sheet,
    render,
    sheet_frames,
)
from vidray.report.plots import histogram, throughput
from vidray.report.run import DEFAULT_DEST, PAGE, ReportError, report
from vidray.report.tally import (
    DURATION_STEP,
    ERROR_EXAMPLES,
    SAMPLE_ROWS,
    Errors,
    Tally,
    _id_rank,
    read_errors,
    tally_rows,
)

__all__ = [
    "DEFAULT_DEST",
    "DURATION_STEP",
    "ERROR_EXAMPLES",
    "PAGE",
    "SAMPLE_ROWS",
    "SHEET_BYTES",
    "SHEET_FRAMES",
    "Errors",
    "ReportError",
    "Tally",
    "_id_rank",
    "add_report_parser",
    "caption",
    "contact_sheet",
    "histogram",
    "read_errors",
    "render",
    "report",
    "run_report",
    "sheet_frames",
    "tally_rows",
    "throughput",
]
