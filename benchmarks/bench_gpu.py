"""Frames per second per node, NVDEC against the CPU, on the same files and targets.

Four cases: 640x360 and 1920x1080 H.264 (10 s, 25 fps, a key frame every 2 s), each
sampled densely (2 fps over the clip... every 0.5 s) and sparsely (8 frames). The CPU
path runs one decoder process per core; the GPU paths (``nvdec``, ``auto``) run
``--gpu-procs`` processes sharing the GPU. Printed: delivered frames per second for
each decoder, ``nvdec / cpu`` and ``auto / cpu``. Goals: nvdec >= 3x cpu at 1080p
dense; auto never below cpu.

    uv run --extra gpu python benchmarks/bench_gpu.py [--files 32] [--gpu-procs 4]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

from vidray import synth
from vidray.media import decode
from vidray.media.sampling import SamplingPolicy

CASES = [
    ("360p", 640, 360),
    ("1080p", 1920, 1080),
]
POLICIES = {
    "dense-2fps": SamplingPolicy(mode="fps", fps=2.0),
    "sparse-8": SamplingPolicy(num_frames=8),
}


def _work(args: tuple[bytes, str, str]) -> tuple[int, str]:
    data, mode, policy = args
    result = decode.sample_clips(
        data,
        clips=[decode.Clip()],
        policy=POLICIES[policy],
        size=336,
        quality=90,
        decoder=mode,
        gpu=mode != "cpu",
    )
    return sum(len(c.times) for c in result.clips), result.decoder


def rate(files: list[bytes], mode: str, policy: str, procs: int) -> tuple[float, set[str]]:
    with ProcessPoolExecutor(procs) as pool:
        list(pool.map(_work, [(files[0], mode, policy)] * procs))  # warm up each process
        t0 = time.perf_counter()
        done = list(pool.map(_work, [(f, mode, policy) for f in files]))
        elapsed = time.perf_counter() - t0
    return sum(n for n, _ in done) / elapsed, {d for _, d in done}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=32)
    ap.add_argument("--gpu-procs", type=int, default=4)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    print(f"{'case':10} {'sampling':11} {'cpu f/s':>9} {'nvdec f/s':>10} {'auto f/s':>9} "
          f"{'nvdec/cpu':>9} {'auto/cpu':>8}  decoders used")  # fmt: skip
    for name, width, height in CASES:
        spec = synth.VideoSpec(num_frames=250, fps=25, width=width, height=height, gop=50)
        files = [synth.encode_mp4(synth.VideoSpec(**{**spec.__dict__, "seed": s}))
                 for s in range(min(args.files, 8))]  # fmt: skip
        files = (files * (args.files // len(files) + 1))[: args.files]
        for policy in POLICIES:
            cpu, _ = rate(files, "cpu", policy, cores)
            nvdec, used_n = rate(files, "nvdec", policy, args.gpu_procs)
            auto, used_a = rate(files, "auto", policy, args.gpu_procs)
            print(f"{name:10} {policy:11} {cpu:9.1f} {nvdec:10.1f} {auto:9.1f} "
                  f"{nvdec / cpu:8.2f}x {auto / cpu:7.2f}x  nvdec:{sorted(used_n)} "
                  f"auto:{sorted(used_a)}")  # fmt: skip


if __name__ == "__main__":
    main()
