"""The command line: thin over ``vidray.pipeline`` and ``vidray.sources``.

    parser     the parser, its commands and epilog, one-line usage errors
    arguments  the arguments of ``vidray convert``
    options    parsed ``convert`` arguments as ``ConvertOptions``
    convert    ``vidray convert``: the Ray session and the run
    demo       ``vidray demo``

``main`` dispatches the commands (``vidray export`` and ``vidray report`` are their
packages' own); this package re-exports its modules' public names.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap

from vidray.cli.arguments import add_convert_arguments
from vidray.cli.convert import ray_session, run_convert
from vidray.cli.demo import cmd_demo, demo_commands, demo_programs
from vidray.cli.options import frame_size, options_from_args, sampling_policy
from vidray.cli.parser import EPILOG, Parser, UsageError, _error, build_parser
from vidray.cluster import Unreachable
from vidray.export import run_export
from vidray.report import run_report

__all__ = [
    "EPILOG",
    "Parser",
    "UsageError",
    "add_convert_arguments",
    "build_parser",
    "cmd_demo",
    "cmd_sources",
    "demo_commands",
    "demo_programs",
    "frame_size",
    "main",
    "options_from_args",
    "ray_session",
    "run_convert",
    "sampling_policy",
]


def cmd_sources() -> int:
    from vidray import sources

    for name, cls in sources.REGISTRY.items():
        print(name)
        print(textwrap.indent(textwrap.fill(cls.layout, 88), "    "))
        if cls.split_names():
            splits = ", ".join(
                f"{s} (default)" if s == cls.default_split else s for s in cls.split_names()
            )
            print(f"    splits: {splits}")
    return 0


def _interrupted(args: argparse.Namespace | None) -> int:
    """Ctrl-C (what the run started is already stopped): say where the run stands."""
    units = 0
    if args is not None and args.command == "convert":
        from vidray import output
        from vidray.io import storage

        with contextlib.suppress(Exception):
            out = storage.location(args.output)
            units = output.committed_count(out)
        print(
            f"vidray: interrupted: {units} units committed; run the same command again to resume",
            file=sys.stderr,
        )
    else:
        print("vidray: interrupted", file=sys.stderr)
    return 130


def main(argv: list[str] | None = None) -> int:
    # Ray would otherwise re-create a uv environment for every worker when the CLI
    # runs under `uv run`; the workers of a local instance share this interpreter.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    args = None
    try:
        args = build_parser().parse_args(argv)
        if args.command == "sources":
            return cmd_sources()
        if args.command == "export":
            return run_export(args)
        if args.command == "report":
            return run_report(args)
        if args.command == "demo":
            return cmd_demo(args.dir)
        try:
            opts = options_from_args(args)
        except ValueError as e:  # what argparse alone cannot check
            return _error(e)
        return run_convert(opts, args.verbose)
    except (UsageError, Unreachable) as e:
        return _error(e)
    except KeyboardInterrupt:
        return _interrupted(args)
