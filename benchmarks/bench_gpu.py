"""Frames per second on one GPU node: NVDEC + nvJPEG against the CPU decoder, and
``auto``, on the same files and targets.

Cases: 1920x1080 H.264 and HEVC (10 s at 25 fps, a key frame every 2 s), each
sampled densely (2 fps over the clip) and sparsely (8 frames), frames scaled to 336
px. The CPU path runs one decoder process per core; the GPU paths (``nvdec``,
``auto``) run ``--gpu-procs`` processes sharing the GPU. Printed per case: delivered
frames per second of each, ``nvdec / cpu`` and ``auto / cpu``, the mean absolute
pixel difference of NVDEC's JPEGs from the CPU's (0-255; the GPU test allows 2), and
how many videos ``auto`` sent to each decoder with the reasons. About 3-5 minutes
with the defaults on a 16-core node; ``benchmarks/gpu_check.sh`` runs it.

    python benchmarks/bench_gpu.py [--files 16] [--gpu-procs 4]
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image

from vidray import synth
from vidray.media import decode
from vidray.media.sampling import SamplingPolicy

CODECS = {
    "h264": ("libx264", {"preset": "ultrafast", "crf": "18"}),
    "hevc": ("libx265", {"preset": "ultrafast", "crf": "18", "x265-params": "log-level=error"}),
}
POLICIES = {
    "dense-2fps": SamplingPolicy(mode="fps", fps=2.0),
    "sparse-8": SamplingPolicy(num_frames=8),
}
SIZE, QUALITY = 336, 90


def _sample(data: bytes, mode: str, policy: str) -> decode.VideoFrames:
    return decode.sample_clips(
        data,
        clips=[decode.Clip()],
        policy=POLICIES[policy],
        size=SIZE,
        quality=QUALITY,
        decoder=mode,
        gpu=mode != "cpu",
    )


def _work(args: tuple[bytes, str, str]) -> tuple[int, str, str]:
    result = _sample(*args)
    return sum(len(c.times) for c in result.clips), result.decoder, result.route


def rate(files: list[bytes], mode: str, policy: str, procs: int) -> tuple[float, Counter]:
    """Delivered frames per second over ``files``, and (decoder, reason) counts."""
    with ProcessPoolExecutor(procs) as pool:
        list(pool.map(_work, [(files[0], mode, policy)] * procs))  # warm up each process
        t0 = time.perf_counter()
        done = list(pool.map(_work, [(f, mode, policy) for f in files]))
        elapsed = time.perf_counter() - t0
    return sum(n for n, _, _ in done) / elapsed, Counter((d, r) for _, d, r in done)


def _difference(data: bytes, policy: str) -> float:
    """Mean absolute pixel difference of NVDEC's frames from the CPU's (in a worker:
    this process stays without CUDA, so its pools may fork)."""
    cpu, gpu = _sample(data, "cpu", policy), _sample(data, "nvdec", policy)
    if gpu.decoder != "nvdec":
        return float("nan")

    def px(jpeg: bytes) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=float)

    pairs = zip(gpu.clips[0].jpegs, cpu.clips[0].jpegs, strict=True)
    return float(np.mean([abs(px(a) - px(b)).mean() for a, b in pairs]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--gpu-procs", type=int, default=4)
    ap.add_argument("--codecs", default=",".join(CODECS))
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    print(f"{'case':11} {'sampling':11} {'cpu f/s':>8} {'nvdec f/s':>9} {'auto f/s':>8} "
          f"{'nvdec/cpu':>9} {'auto/cpu':>8} {'diff':>5}  auto's videos")  # fmt: skip
    for codec in args.codecs.split(","):
        encoder, options = CODECS[codec]
        spec = synth.VideoSpec(num_frames=250, fps=25, width=1920, height=1080, gop=50)
        distinct = [
            synth.encode_video(
                synth.VideoSpec(**{**spec.__dict__, "seed": s}), codec=encoder, options=options
            )
            for s in range(min(args.files, 4))
        ]
        files = (distinct * (args.files // len(distinct) + 1))[: args.files]
        for policy in POLICIES:
            cpu, _ = rate(files, "cpu", policy, cores)
            nvdec, used_n = rate(files, "nvdec", policy, args.gpu_procs)
            auto, used_a = rate(files, "auto", policy, args.gpu_procs)
            with ProcessPoolExecutor(1) as pool:
                diff = pool.submit(_difference, files[0], policy).result()
            routed = ", ".join(f"{d} {n} ({r})" for (d, r), n in sorted(used_a.items()))
            if any(d != "nvdec" for d, _ in used_n):
                routed += f"; nvdec mode fell back: {dict(used_n)}"
            print(f"{codec + '-1080p':11} {policy:11} {cpu:8.1f} {nvdec:9.1f} {auto:8.1f} "
                  f"{nvdec / cpu:8.2f}x {auto / cpu:7.2f}x {diff:5.2f}  {routed}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
