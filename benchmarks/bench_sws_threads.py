"""swscale threads: the CPU decoder's conversions (``SWS_THREADS``) against PyAV's
default (``threads=0``: one swscale thread per CPU).

Frames: those the decoder delivers for 2 fps targets on the all-intra clips of
``bench_decode.py`` (10 s at 640x360). Each frame is converted to RGB at full size and
scaled to 336 px (area averaging), through one context per setting, as the decoder
keeps one per thread. Rounds alternate which setting goes first; it prints wall and CPU
microseconds per frame (best round) and checks that both give the same bytes.

    uv run python benchmarks/bench_sws_threads.py [--clips 12 --rounds 7]
"""

from __future__ import annotations

import argparse
import os
import time

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from bench_decode import STRUCTURES, encode

from vidray.media import sampling
from vidray.media.cpu import CpuVideo
from vidray.media.pictures import SWS_THREADS, rgb24

SCALED = (336, 189)


def frames_of(clips: int) -> list[av.VideoFrame]:
    intra = next(s for s in STRUCTURES if s.name == "all-intra")
    policy = sampling.SamplingPolicy(mode="fps", fps=2.0, max_frames=10**6)
    targets = sampling.targets_for(policy, 0.0, 10.0)
    frames = []
    for seed in range(clips):
        with CpuVideo(encode(10, intra.options, seed)) as video:
            frames += [frame for _, _, frame in video.frames_shown(targets)]
    return frames


def default_rgb(
    r: VideoReformatter, frame: av.VideoFrame, size: tuple[int, int] | None
) -> np.ndarray:
    """PyAV's default thread count, otherwise the decoder's conversion."""
    if size is None:
        return r.reformat(frame, format="rgb24").to_ndarray()
    width, height = size
    return r.reformat(
        frame, width=width, height=height, format="rgb24", interpolation="AREA"
    ).to_ndarray()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    frames = frames_of(args.clips)
    print(f"{len(frames)} frames, {os.cpu_count()} CPUs, SWS_THREADS = {SWS_THREADS}")
    ours, pyav = VideoReformatter(), VideoReformatter()
    ways = {
        f"vidray ({SWS_THREADS} thread)": lambda f, size: rgb24(f, size, reformatter=ours),
        "PyAV default (a thread per CPU)": lambda f, size: default_rgb(pyav, f, size),
    }
    for size in (None, SCALED):
        wall = {name: float("inf") for name in ways}
        cpu = {name: float("inf") for name in ways}
        for r in range(args.rounds):
            for name in list(ways)[:: 1 if r % 2 else -1]:
                t0, c0 = time.perf_counter(), time.process_time()
                for frame in frames:
                    ways[name](frame, size)
                wall[name] = min(wall[name], time.perf_counter() - t0)
                cpu[name] = min(cpu[name], time.process_time() - c0)
        a, b = ([way(f, size).tobytes() for f in frames] for way in ways.values())
        if a != b:
            raise SystemExit("the two settings gave different bytes")
        label = "full size" if size is None else f"{size[0]}x{size[1]}"
        base = next(iter(ways))
        for name in ways:
            print(
                f"{label:10} {name:32} wall {wall[name] / len(frames) * 1e6:6.0f} us"
                f"  cpu {cpu[name] / len(frames) * 1e6:6.0f} us"
                f"  cpu vs vidray {cpu[name] / cpu[base]:5.2f}x"
            )
    print("same bytes: yes")


if __name__ == "__main__":
    main()
