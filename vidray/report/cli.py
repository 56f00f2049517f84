"""``vidray report OUTPUT [DEST]``: its parser and its run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vidray.report.run import DEFAULT_DEST, ReportError, report


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
