"""The arguments of ``vidray convert`` (and ``jobs/convert.py``), with their help."""

from __future__ import annotations

import argparse

from vidray.argtypes import (
    jpeg_quality,
    non_negative_float,
    positive_float,
    positive_int,
    whole_number,
)
from vidray.config import (
    DEFAULT_SIZE,
    LAYOUTS,
    QA_MODES,
    DatasetOptions,
    FrameOptions,
    OutputOptions,
    RunOptions,
)
from vidray.media.registry import DECODERS, DEFAULT_DECODER
from vidray.media.sampling import VIDEO_MAX_PIXELS, VIDEO_MIN_PIXELS


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
