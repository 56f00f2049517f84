"""``vidray export FORMAT OUTPUT DEST [options]``: the argparse parser (one subcommand
per format in ``FORMATS``, its help the format's own) and the command."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vidray.argtypes import whole_number
from vidray.export.errors import ExportError
from vidray.export.formats import FORMATS
from vidray.export.options import ExportOptions, parse_split
from vidray.export.run import export


def add_export_parser(sub: Any) -> None:
    """``vidray export FORMAT OUTPUT DEST [options]`` under the CLI's subparsers."""
    parser = sub.add_parser(
        "export",
        help="write what trainers read (LLaMA-Factory, LLaVA, frame folders, CLIP pairs) from "
        "an OUTPUT",
        description="Write trainer inputs from a vidray OUTPUT (local or s3://) into a local "
        "DEST: JSON records plus the frames (or images) as JPEG files under DEST/frames/.",
    )
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, fmt in FORMATS.items():
        p = formats.add_parser(name, help=fmt.help, description=fmt.help)
        p.add_argument(
            "output", metavar="OUTPUT", help="a vidray output root: local path, file:// or s3://"
        )
        p.add_argument(
            "dest", metavar="DEST", help="local directory to write into (created if missing)"
        )
        p.add_argument("--name", default=None, help="file and dataset name (default: the source)")
        p.add_argument(
            "--split",
            default=None,
            metavar="NAME=RATIO,...",
            help="e.g. train=0.8,val=0.1,test=0.1: one file per split (NAME_train...), "
            "assigned by a hash of each row's video and clip, so a clip never straddles splits",
        )
        p.add_argument(
            "--split-by",
            choices=("clip", "video"),
            default="clip",
            help="the unit kept whole by --split: a video+clip (default) or a whole video",
        )
        p.add_argument(
            "--seed", type=whole_number, default=0, help="seed of the split hash (default: 0)"
        )
        p.add_argument(
            "--overwrite",
            action="store_true",
            help="replace record files (and dataset_info.json entries) of the same name that "
            "another OUTPUT wrote (default: refused; the same OUTPUT again is fine)",
        )
        if fmt.absolute_paths:
            p.add_argument(
                "--absolute-paths",
                action="store_true",
                help="absolute frame paths in the records (default: relative to DEST, which "
                "LLaMA-Factory resolves against media_dir, by default dataset_dir)",
            )


def run_export(args: argparse.Namespace) -> int:
    """The ``vidray export`` command: 0 and a one-line summary, or 2 and one error line."""
    from vidray.io.storage import StorageError

    try:
        opts = ExportOptions(
            format=args.format,
            output=args.output,
            dest=args.dest,
            name=args.name,
            split=parse_split(args.split) if args.split is not None else None,
            split_by=args.split_by,
            seed=args.seed,
            overwrite=args.overwrite,
            absolute_paths=getattr(args, "absolute_paths", False),
        )
        summary = export(opts)
    except (ValueError, ExportError, StorageError) as e:
        print(f"vidray: error: {e}", file=sys.stderr)
        return 2
    print(summary.describe())
    return 0
