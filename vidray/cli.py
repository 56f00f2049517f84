"""The command line: thin over ``vidray.pipeline`` and ``vidray.sources``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import signal
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from vidray import __version__
from vidray.argtypes import (
    jpeg_quality,
    non_negative_float,
    positive_float,
    positive_int,
    whole_number,
)
from vidray.cluster import Unreachable
from vidray.config import (
    DEFAULT_SIZE,
    LAYOUTS,
    QA_MODES,
    DatasetOptions,
    FrameOptions,
    OutputOptions,
    RunOptions,
)
from vidray.console import Console, quiet
from vidray.export import add_export_parser, run_export
from vidray.media.registry import DECODERS, DEFAULT_DECODER
from vidray.media.sampling import PIXEL_FACTOR, VIDEO_MAX_PIXELS, VIDEO_MIN_PIXELS
from vidray.report import add_report_parser, run_report

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


def add_convert_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``vidray convert``, shared with ``jobs/convert.py``."""
    p.add_argument("source", help="a registered source name (see `vidray sources`)")
    p.add_argument(
        "input",
        help="dataset root as published (or one shard file of it): local path, file:// or s3://",
    )
    p.add_argument("output", help="output root: local path, file:// or s3://")
    data = p.add_argument_group("dataset")
    data.add_argument(
        "--videos",
        default=None,
        metavar="URI",
        help="where the videos (or an image set's images) are when they are not under INPUT "
        "(default: the folder the dataset's layout uses; see `vidray sources`)",
    )
    data.add_argument(
        "--split",
        default=None,
        help="the dataset split to read (default: the source's own, train where it has one; "
        "`vidray sources` lists them)",
    )
    data.add_argument(
        "--min-duration",
        type=non_negative_float,
        default=None,
        metavar="S",
        help="skip videos shorter than S seconds (read from the container, not decoded); "
        "skipped videos are recorded as filtered_duration",
    )
    data.add_argument(
        "--max-duration",
        type=non_negative_float,
        default=None,
        metavar="S",
        help="skip videos longer than S seconds",
    )
    data.add_argument(
        "--qa-mode",
        choices=QA_MODES,
        default=DatasetOptions.qa_mode,
        help="split: one row per question (default); multiturn: all questions on the same "
        "video and span as one conversation",
    )
    data.add_argument(
        "--layout",
        choices=LAYOUTS,
        default=OutputOptions.layout,
        help="rows: one row per question, each with its clip's frames (default; what "
        "datasets.load_dataset and LLaMA-Factory read as samples); clips: one row per clip "
        "with its frames once and its questions in `questions` (a reader holds each clip's "
        "frames once; fewer bytes on disk when clips have many or large frames; vidray's "
        "readers and exports flatten it to one sample per question)",
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
        type=positive_int,
        default=8,
        help="frames spread uniformly over each clip (default: 8)",
    )
    frames.add_argument(
        "--fps",
        type=positive_float,
        default=None,
        help="sample at this rate instead of --num-frames, capped by --max-frames",
    )
    frames.add_argument(
        "--max-frames",
        type=positive_int,
        default=64,
        help="with --fps: above this many frames, take this many uniformly (default: 64)",
    )
    frames.add_argument(
        "--fps-regular",
        action="store_true",
        help="with --fps F: frames exactly 1/F s apart, one per 1/F s (a frame repeated where "
        "the video is slower than F), the first --max-frames of a longer clip: a frame list "
        "LLaMA-Factory reads at video_fps: F keeps the clip's timing",
    )
    frames.add_argument(
        "--frame-multiple",
        type=positive_int,
        default=1,
        metavar="K",
        help="each clip's frame count a multiple of K, as qwen-vl-utils' smart_nframes "
        "rounds it (2 for Qwen2-VL/Qwen2.5-VL); a clip with fewer frames repeats its last "
        "one (default: 1)",
    )
    frames.add_argument(
        "--size",
        type=positive_int,
        default=None,
        help="short side of the frames (and images) in pixels, aspect kept "
        f"(default: {DEFAULT_SIZE})",
    )
    frames.add_argument(
        "--native-size",
        action="store_true",
        help="keep the video's own frame size (an image's own size)",
    )
    frames.add_argument(
        "--min-pixels",
        type=positive_int,
        default=None,
        metavar="N",
        help="size frames (and images) by qwen-vl-utils' smart_resize instead of --size: both "
        "sides multiples of 28, at least N pixels (default with --max-pixels: "
        f"{VIDEO_MIN_PIXELS}, qwen-vl-utils' VIDEO_MIN_PIXELS)",
    )
    frames.add_argument(
        "--max-pixels",
        type=positive_int,
        default=None,
        metavar="N",
        help="with smart_resize: at most N pixels (default with --min-pixels: "
        f"{VIDEO_MAX_PIXELS}, VIDEO_MAX_PIXELS, or 1.05 x --min-pixels when above)",
    )
    frames.add_argument(
        "--pixel-factor",
        type=positive_int,
        default=None,
        metavar="K",
        help="with smart_resize: sides multiples of K instead of 28; 56 for frame lists read by "
        "qwen-vl-utils 0.0.14's fetch_video, which sizes each listed frame by multiples of 56 "
        "(it would resize 28-multiple frames)",
    )
    frames.add_argument(
        "--jpeg-quality",
        type=jpeg_quality,
        default=FrameOptions.jpeg_quality,
        help=f"JPEG quality 1-100 (default: {FrameOptions.jpeg_quality})",
    )
    run = p.add_argument_group("run")
    run.add_argument(
        "--num-workers",
        type=positive_int,
        default=None,
        help="decode workers: convert tasks at once (default: one per CPU of the cluster)",
    )
    run.add_argument(
        "--cpus-per-worker",
        type=positive_float,
        default=None,
        help="CPUs each convert task reserves (default: 80%% of the CPUs present, shared); "
        "set it on autoscaling clusters, e.g. --num-workers 400 --cpus-per-worker 1",
    )
    run.add_argument(
        "--prompts",
        default=None,
        help="caption-instruction pool: filtered_train.json-style JSON or one per line "
        "(default: a built-in pool)",
    )
    run.add_argument(
        "--seed",
        type=whole_number,
        default=DatasetOptions.seed,
        help="seed of the instruction draw",
    )
    run.add_argument(
        "--limit", type=positive_int, default=None, help="convert only the first N samples"
    )
    run.add_argument(
        "--samples-per-file",
        type=positive_int,
        default=OutputOptions.samples_per_file,
        help="samples per output file, the unit of work "
        f"(default: {OutputOptions.samples_per_file})",
    )
    run.add_argument(
        "--ray-address",
        default=None,
        help="Ray cluster to use (default: RAY_ADDRESS, else a local Ray instance)",
    )
    run.add_argument(
        "--decoder",
        choices=DECODERS,
        default=DEFAULT_DECODER,
        help="auto: NVDEC on a decode worker that has a GPU, for videos it can take and "
        "where it pays off (720p and up, enough frames), else the CPU; cpu; nvdec: workers "
        "reserve GPUs, refused when the cluster has none. Any video the GPU cannot take or "
        f"fails on is decoded on the CPU (default: {DEFAULT_DECODER})",
    )
    run.add_argument(
        "--gpus-per-worker",
        type=positive_float,
        default=None,
        help="GPUs each GPU convert task reserves, fractional to share one (default with "
        "--decoder nvdec: the cluster's GPUs shared by the workers, at most 1 each; with "
        "auto: 1 where the cluster has GPUs; pass it where GPU nodes start on demand)",
    )
    run.add_argument(
        "--gpu-workers",
        type=positive_int,
        default=None,
        help="with --decoder auto on a cluster with GPUs (or --gpus-per-worker): decode "
        "workers on GPUs, next to --num-workers CPU workers; input shards are dealt to the "
        "two pools in proportion to their workers (default: as many as the GPUs present "
        "hold, 1 when none is up yet)",
    )
    run.add_argument(
        "--sample-timeout",
        type=positive_float,
        default=RunOptions.sample_timeout_s,
        help="seconds one decode attempt may take per span asked of a video; a video's "
        f"spans are decoded in one pass (default: {RunOptions.sample_timeout_s:g})",
    )
    run.add_argument(
        "--decode-attempts",
        type=positive_int,
        default=RunOptions.decode_attempts,
        help="attempts per sample before a crash or timeout becomes an error row "
        f"(default: {RunOptions.decode_attempts})",
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
    run.add_argument("--quiet", action="store_true", help="no progress bar or lines")
    run.add_argument(
        "--verbose",
        action="store_true",
        help="show Ray's own messages too (by default they go to a log file under Ray's "
        "temp folder, /tmp/ray/vidray/)",
    )


def frame_size(args: argparse.Namespace):
    """``--size``, ``--native-size`` or ``--min-pixels``/``--max-pixels``: one of them.
    A budget bound not given is qwen-vl-utils' video default, within the one given."""
    from vidray.media.sampling import PixelBudget

    budget = args.min_pixels is not None or args.max_pixels is not None
    ways = {
        "--size": args.size is not None,
        "--native-size": args.native_size,
        "--min-pixels/--max-pixels": budget,
    }
    given = [name for name, on in ways.items() if on]
    if len(given) > 1:
        raise ValueError(f"{' and '.join(given)} exclude each other: give one way to size frames")
    if args.native_size:
        return None
    factor = getattr(args, "pixel_factor", None)
    if factor is not None and not budget:
        raise ValueError("--pixel-factor applies to --min-pixels/--max-pixels only")
    if not budget:
        return DEFAULT_SIZE if args.size is None else args.size
    factor = factor or PIXEL_FACTOR
    low, high = args.min_pixels, args.max_pixels
    if low is None:
        low = min(VIDEO_MIN_PIXELS, high)
    if high is None:  # qwen-vl-utils' fetch_video keeps max_pixels >= 1.05 min_pixels
        high = max(VIDEO_MAX_PIXELS, int(low * 1.05))
    if high < factor * factor:
        raise ValueError(
            f"--max-pixels must be >= {factor * factor} ({factor}x{factor}, the smallest "
            f"frame), got {high}"
        )
    if low > high:
        raise ValueError(f"--min-pixels ({low}) is above --max-pixels ({high})")
    return PixelBudget(min_pixels=low, max_pixels=high, factor=factor)


def sampling_policy(args: argparse.Namespace):
    from vidray.media.sampling import SamplingPolicy

    k = args.frame_multiple
    if args.fps is None:
        if args.fps_regular:
            raise ValueError("--fps-regular needs --fps F (the rate the frames are apart)")
        return SamplingPolicy(mode="uniform", num_frames=args.num_frames, frame_multiple=k)
    if args.max_frames < k:
        raise ValueError(f"--max-frames ({args.max_frames}) is below --frame-multiple ({k})")
    return SamplingPolicy(
        mode="fps",
        fps=args.fps,
        max_frames=args.max_frames,
        regular=args.fps_regular,
        frame_multiple=k,
    )


def options_from_args(args: argparse.Namespace):
    from vidray.config import ConvertOptions

    return ConvertOptions.of(
        source=args.source,
        input=args.input,
        output=args.output,
        sampling=sampling_policy(args),
        size=frame_size(args),
        jpeg_quality=args.jpeg_quality,
        num_workers=args.num_workers,
        cpus_per_worker=args.cpus_per_worker,
        decoder=args.decoder,
        gpus_per_worker=args.gpus_per_worker,
        gpu_workers=args.gpu_workers,
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
        layout=args.layout,
        **({"mc_template": args.mc_template} if args.mc_template is not None else {}),
    )


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


@contextlib.contextmanager
def ray_session(address: str | None, verbose: bool) -> Iterator[Console]:
    """Ray joined (or a local instance started) with its lines going to its log folder
    unless ``verbose``; on the way out, however it is left (Ctrl-C included), Ray is
    disconnected, what this process started is stopped, and the terminal is back."""
    from vidray import cluster

    console = quiet(verbose)
    log, failed = console.log, False
    try:
        cluster.connect(address, quiet=not verbose, own_processes=True)
        yield console
    except Exception as e:
        from vidray.plan import ConvertError

        failed = not isinstance(e, Unreachable | ConvertError)
        raise
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # cleanup runs to the end
        try:
            cluster.stop()
        finally:
            console.restore()
            signal.signal(signal.SIGINT, previous)
        if failed and log is not None:  # a bug: its traceback follows, Ray's side is here
            print(f"vidray: Ray's own messages are in {log}", file=sys.stderr)


def run_convert(opts, verbose: bool = False) -> int:
    """Check everything, then (unless OUTPUT is already complete) join or start Ray,
    convert and commit. Every refusal happens before Ray starts and before OUTPUT is
    touched."""
    from vidray.pipeline import ConvertError, prepare, run
    from vidray.progress import make_progress

    try:
        job = prepare(opts)
    except ConvertError as e:
        return _error(e)
    if job.complete is not None:  # reported without starting Ray
        print(run(job).describe())
        return 0
    try:
        with ray_session(opts.run.ray_address, verbose) as console:
            summary = run(job, make_progress(opts.run.progress, console.err))
    except ConvertError as e:  # found once the cluster is known (no GPU for nvdec)
        return _error(e)
    print(summary.describe())
    return 0


def _error(e: Exception | str) -> int:
    print(f"vidray: error: {e}", file=sys.stderr, flush=True)
    return 2


def demo_commands(root: Path) -> dict[str, list[str]]:
    """The commands the demo runs, as a user would type them."""
    extra = ["--samples-per-file", "4"]
    return {
        name: ["vidray", "convert", name, str(root / name), str(root / "out" / name), *extra]
        for name in ("webvid", "finevideo")
    }


def demo_programs() -> tuple[list[str], str]:
    """How the demo's next steps name vidray and Python: by the absolute paths of the
    console script beside this interpreter (``python -m vidray`` where there is none)
    and of the interpreter itself, so each line runs as printed from any directory,
    with no environment activated (``uv run`` puts them in the project's ``.venv``)."""
    python = sys.executable
    script = Path(python).parent / "vidray"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], python
    return [python, "-m", "vidray"], python


def _demo_inputs(root: Path) -> tuple[list[str], int, float]:
    from vidray import synth

    t0 = time.monotonic()
    # One WebVid clip is random bytes, to show how a bad sample is reported.
    keys = synth.write_webvid(root / "webvid", shards=2, per_shard=8, corrupt={"1000111"})
    qas = synth.write_finevideo(root / "finevideo", files=2, per_file=3)
    return keys, qas, time.monotonic() - t0


def cmd_demo(directory: str | None) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from vidray.pipeline import ConvertError, prepare, run
    from vidray.progress import NoProgress
    from vidray.report import report

    root = Path(directory or tempfile.mkdtemp(prefix="vidray-demo-")).resolve()
    t0 = time.monotonic()
    commands = demo_commands(root)
    # The inputs are made while Ray starts (encoding waits on FFmpeg, Ray on its
    # processes): start-up is paid once, for both.
    with ThreadPoolExecutor(1) as pool:
        made = pool.submit(_demo_inputs, root)
        with ray_session(None, verbose=False):
            keys, qas, made_s = made.result()
            print(
                f"generated {len(keys)} WebVid clips (one corrupt) and 6 FineVideo videos "
                f"({qas} QAs) in {root} ({made_s:.1f} s, while Ray started)",
                flush=True,
            )
            try:
                jobs = {n: prepare(options_from_args(build_parser().parse_args(argv[1:])))
                        for n, argv in commands.items()}  # fmt: skip
            except ConvertError as e:  # e.g. DIR/out holds something else
                return _error(e)
            for name, job in jobs.items():
                print(f"{name:10s} {run(job, NoProgress()).describe()}", flush=True)
    out = root / "out" / "webvid"
    page = report(str(out), str(root / "report"))
    print(f"report     {page}  (open it in a browser: counts, errors, sample frames)", flush=True)
    vidray, python = demo_programs()
    q = shlex.quote
    where = json.dumps(str(out))  # a Python string literal; no single quote for the shell
    count = "import pyarrow.dataset as ds; "
    count += f'print(ds.dataset({where}, format="parquet").to_table().num_rows)'
    load = f'import datasets; print(datasets.load_dataset({where}, split="train"))'
    print(
        f"demo done in {time.monotonic() - t0:.1f} s. It ran:\n"
        + "".join(f"  {shlex.join([*vidray, *argv[1:]])}\n" for argv in commands.values())
        + "Next (each line runs as printed, from any directory):\n"
        f"  {shlex.join([*vidray, 'export', 'llamafactory', str(out), str(root / 'export')])}"
        "   # records + frames for LLaMA-Factory\n"
        f"  {shlex.join([*vidray, 'report', str(out), str(root / 'report')])}"
        "   # the HTML report again\n"
        f"  {q(python)} -c {q(count)}\n"
        f"  {q(python)} -c {q(load)}   # with datasets",
        flush=True,
    )
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


if __name__ == "__main__":
    raise SystemExit(main())
