"""The ``vidray`` parser: its commands, the epilog, and a mistake on the command line as
one line (``vidray: error: ...``, exit 2)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

from vidray import __version__
from vidray.cli.arguments import add_convert_arguments
from vidray.export import add_export_parser
from vidray.report import add_report_parser

EPILOG = """\
Output: OUTPUT/data/<split>-*.parquet (one row per conversation, frames as JPEG; with
--layout clips one row per clip, its frames once and its questions nested),
OUTPUT/__errors/*.parquet (one row per question of a video that failed, with a reason)
and OUTPUT/_SUCCESS (JSON: counts, options, versions, shards), written last. OUTPUT loads
as it is: datasets.load_dataset(OUTPUT, split="train") and
pyarrow.dataset.dataset(OUTPUT, format="parquet") read the data rows only.
Storage: local paths, file:// or s3://bucket/prefix; S3 credentials and endpoint
come from the standard AWS chain (AWS_PROFILE, AWS_ENDPOINT_URL, ...)."""


class UsageError(Exception):
    """A mistake on the command line: one line, exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (``vidray: error: ...``) instead of the
    usage block, so a mistake reads the same as every other refusal."""

    def error(self, message: str) -> NoReturn:
        # "argument --num-frames: must be ..." reads better as "--num-frames must be ...".
        message = re.sub(r"^argument (\S+?)(?:/\S+)?: (must )?", _option_first, message)
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _option_first(m: re.Match[str]) -> str:
    return f"{m[1]} must " if m[2] else f"{m[1]}: "


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="vidray",
        description="Convert public video instruction datasets into Parquet conversation "
        "shards with sampled frames, on Ray Data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vidray {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    conv = sub.add_parser(
        "convert",
        help="convert a dataset to Parquet conversation shards",
        description="Convert SOURCE data at INPUT into OUTPUT.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_convert_arguments(conv)
    sub.add_parser("sources", help="list the sources and the input layout each expects")
    demo = sub.add_parser(
        "demo", help="generate small WebVid and FineVideo inputs and convert them locally"
    )
    demo.add_argument("dir", nargs="?", default=None, help="work directory (default: a temp dir)")
    add_export_parser(sub)
    add_report_parser(sub)
    return parser


def _error(e: Exception | str) -> int:
    print(f"vidray: error: {e}", file=sys.stderr, flush=True)
    return 2
