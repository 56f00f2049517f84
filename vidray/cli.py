"""The command line: thin over ``vidray.pipeline`` and ``vidray.sources``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from vidray import __version__
from vidray.export import add_export_parser, run_export

EPILOG = """\
Output: OUTPUT/data/*.parquet (one row per conversation, frames as JPEG),
OUTPUT/errors/*.parquet (one row per question of a video that failed, with a reason) and
OUTPUT/_SUCCESS (JSON: counts, options, versions, files), written last.
Storage: local paths, file:// or s3://bucket/prefix; S3 credentials and endpoint
come from the standard AWS chain (AWS_PROFILE, AWS_ENDPOINT_URL, ...)."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _quality(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be in 1..100, got {value}")
    return value


def add_convert_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``vidray convert``, shared with ``jobs/convert.py``."""
    p.add_argument("source", help="a registered source name (see `vidray sources`)")
    p.add_argument("input", help="dataset root as published: local path, file:// or s3://")
    p.add_argument("output", help="output root: local path, file:// or s3://")
    data = p.add_argument_group("dataset")
    data.add_argument(
        "--videos",
        default=None,
        metavar="URI",
        help="where the videos are when they are not under INPUT (default: the folder "
        "the dataset's layout uses; see `vidray sources`)",
    )
    data.add_argument(
        "--split",
        default=None,
        help="the dataset split to read (default: the source's own, train where it has one; "
        "`vidray sources` lists them)",
    )
    data.add_argument(
        "--min-duration",
        type=_non_negative_float,
        default=None,
        metavar="S",
        help="skip videos shorter than S seconds (read from the container, not decoded); "
        "skipped videos are recorded as filtered_duration",
    )
    data.add_argument(
        "--max-duration",
        type=_non_negative_float,
        default=None,
        metavar="S",
        help="skip videos longer than S seconds",
    )
    data.add_argument(
        "--qa-mode",
        choices=("split", "multiturn"),
        default="split",
        help="split: one row per question (default); multiturn: all questions on the same "
        "video and span as one conversation",
    )
    data.add_argument(
        "--mc-template",
        default=None,
        metavar="TEMPLATE",
        help="how a multiple-choice question is shown, with {question} and {options} "
        "(options are lines 'A. ...'); default: the recipe's wording",
    )
    frames = p.add_argument_group("frame sampling")
    frames.add_argument(
        "--num-frames",
        type=_positive_int,
        default=8,
        help="frames spread uniformly over each clip (default: 8)",
    )
    frames.add_argument(
        "--fps",
        type=_positive_float,
        default=None,
        help="sample at this rate instead of --num-frames, capped by --max-frames",
    )
    frames.add_argument(
        "--max-frames",
        type=_positive_int,
        default=64,
        help="with --fps: above this many frames, take this many uniformly (default: 64)",
    )
    frames.add_argument(
        "--size",
        type=_positive_int,
        default=336,
        help="short side of the frames in pixels, aspect kept (default: 336)",
    )
    frames.add_argument(
        "--native-size",
        action="store_true",
        help="keep the video's own frame size",
    )
    frames.add_argument(
        "--jpeg-quality", type=_quality, default=90, help="JPEG quality 1-100 (default: 90)"
    )
    run = p.add_argument_group("run")
    run.add_argument(
        "--num-workers",
        type=_positive_int,
        default=None,
        help="decode actors (default: one per CPU of the cluster)",
    )
    run.add_argument(
        "--cpus-per-worker",
        type=_positive_float,
        default=None,
        help="CPUs each decode actor reserves (default: 80%% of the CPUs present, shared); "
        "set it on autoscaling clusters, e.g. --num-workers 400 --cpus-per-worker 1",
    )
    run.add_argument(
        "--prompts",
        default=None,
        help="caption-instruction pool: filtered_train.json-style JSON or one per line "
        "(default: a built-in pool)",
    )
    run.add_argument("--seed", type=int, default=0, help="seed of the instruction draw")
    run.add_argument(
        "--limit", type=_positive_int, default=None, help="convert only the first N samples"
    )
    run.add_argument(
        "--samples-per-file",
        type=_positive_int,
        default=16,
        help="samples per output file, the unit of work (default: 16)",
    )
    run.add_argument(
        "--ray-address",
        default=None,
        help="Ray cluster to use (default: RAY_ADDRESS, else a local Ray instance)",
    )
    run.add_argument(
        "--sample-timeout",
        type=_positive_float,
        default=300.0,
        help="seconds one decode attempt of a sample may take (default: 300)",
    )
    run.add_argument(
        "--decode-attempts",
        type=_positive_int,
        default=2,
        help="attempts per sample before a crash or timeout becomes an error row (default: 2)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUTPUT when it holds the output of a different command (otherwise "
        "refused); a rerun of the same command resumes instead",
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="redo only the samples recorded in OUTPUT/errors (same command otherwise) and "
        "merge them into their units",
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines")


def options_from_args(args: argparse.Namespace):
    from vidray.config import ConvertOptions
    from vidray.media.sampling import SamplingPolicy

    if args.fps is not None:
        policy = SamplingPolicy(mode="fps", fps=args.fps, max_frames=args.max_frames)
    else:
        policy = SamplingPolicy(mode="uniform", num_frames=args.num_frames)
    return ConvertOptions(
        source=args.source,
        input=args.input,
        output=args.output,
        sampling=policy,
        size=None if args.native_size else args.size,
        jpeg_quality=args.jpeg_quality,
        num_workers=args.num_workers,
        cpus_per_worker=args.cpus_per_worker,
        prompts=args.prompts,
        seed=args.seed,
        limit=args.limit,
        ray_address=args.ray_address,
        samples_per_file=args.samples_per_file,
        sample_timeout_s=args.sample_timeout,
        decode_attempts=args.decode_attempts,
        overwrite=args.overwrite,
        retry_failed=args.retry_failed,
        progress=not args.quiet,
        videos=args.videos,
        split=args.split,
        min_duration=args.min_duration,
        max_duration=args.max_duration,
        qa_mode=args.qa_mode,
        **({"mc_template": args.mc_template} if args.mc_template is not None else {}),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidray",
        description="Convert public video instruction datasets into Parquet conversation "
        "shards with sampled frames, on Ray Data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vidray {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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
    return parser


def cmd_sources() -> int:
    from vidray import sources

    for name, cls in sources.REGISTRY.items():
        print(name)
        print(textwrap.indent(textwrap.fill(cls.layout, 88), "    "))
        if issubclass(cls, sources.AnnotationSource):
            splits = ", ".join(
                f"{s} (default)" if s == cls.default_split else s for s in cls.annotation_files
            )
            print(f"    splits: {splits}")
    return 0


def run_convert(opts) -> int:
    from vidray.pipeline import ConvertError, convert

    try:
        summary = convert(opts)
    except ConvertError as e:
        print(f"vidray: error: {e}", file=sys.stderr)
        return 2
    print(summary.describe())
    return 0


def cmd_demo(directory: str | None) -> int:
    from vidray import synth
    from vidray.config import ConvertOptions
    from vidray.pipeline import convert

    root = Path(directory or tempfile.mkdtemp(prefix="vidray-demo-")).resolve()
    t0 = time.monotonic()
    # One WebVid clip is random bytes, to show how a bad sample is reported.
    keys = synth.write_webvid(root / "webvid", shards=2, per_shard=8, corrupt={"1000111"})
    qas = synth.write_finevideo(root / "finevideo", files=2, per_file=3)
    print(
        f"generated {len(keys)} WebVid clips (one corrupt) and 6 FineVideo videos "
        f"({qas} QAs) in {root} ({time.monotonic() - t0:.1f} s)"
    )
    for name in ("webvid", "finevideo"):
        opts = ConvertOptions(
            source=name,
            input=str(root / name),
            output=str(root / "out" / name),
            samples_per_file=4,
            overwrite=True,
            progress=False,
        )
        summary = convert(opts)
        print(f"{name:10s} {summary.describe()}")
    print(
        f"demo done in {time.monotonic() - t0:.1f} s; read the rows with "
        f"vidray.sink.read_output('{root / 'out' / 'webvid'}'), the failures with "
        f"read_output(..., 'errors')"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    # Ray would otherwise re-create a uv environment for every worker when the CLI
    # runs under `uv run`; the workers of a local instance share this interpreter.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    args = build_parser().parse_args(argv)
    if args.command == "sources":
        return cmd_sources()
    if args.command == "demo":
        return cmd_demo(args.dir)
    if args.command == "export":
        return run_export(args)
    try:
        opts = options_from_args(args)
    except ValueError as e:
        print(f"vidray: error: {e}", file=sys.stderr)
        return 2
    return run_convert(opts)


if __name__ == "__main__":
    raise SystemExit(main())
