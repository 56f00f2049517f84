"""Throughput of ``vidray convert`` on Ray against a plain single-process loop.

Both sides read the same synthetic WebVid tar shards with the same source code, decode
and JPEG-encode with ``decode.sample_video`` and write one Parquet file per unit with
``sink.write_unit``; the script checks that both outputs hold the same frames.

    uv run python benchmarks/bench_convert.py [--shards N --per-shard M --frames F ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from vidray import sink, synth
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.media.sampling import SamplingPolicy
from vidray.pipeline import build_source, convert
from vidray.read import read_units
from vidray.stage import ConvertStage, StageConfig


def baseline(opts: ConvertOptions) -> int:
    """The same work in one process, no Ray: the pipeline's own reader and stage, called
    directly, so both sides decode, scale, encode and write exactly the same way."""
    source = build_source(opts)
    inp = storage.location(opts.input)
    stage = ConvertStage(StageConfig.from_options(opts, opts.output, source, opts.input))
    clips = 0
    for shard in source.units(inp):
        for block in read_units(
            opts.source, source.ctx, opts.input, shard, None, opts.samples_per_file
        ):
            clips += sum(stage(block).column("samples").to_pylist())
    return clips


def frames_by_id(table: Any) -> list[tuple[str, list[bytes]]]:
    return sorted(
        zip(table.column("id").to_pylist(), table.column("frames").to_pylist(), strict=True)
    )


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--per-shard", type=int, default=48)
    p.add_argument("--frames", type=int, default=120, help="frames per input clip")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--gop", type=int, default=30)
    p.add_argument("--sample", type=int, default=8, help="frames sampled per clip")
    p.add_argument("--size", type=int, default=ConvertOptions.size, help="short side (px)")
    p.add_argument("--workers", type=int, default=None, help="decode actors (default: auto)")
    p.add_argument("--keep", type=Path, default=None, help="work here and keep the files")
    args = p.parse_args()
    # Ray's uv hook would rebuild the venv for every worker: set before importing ray.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    import ray

    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="vidray-bench-")
    root: Path = args.keep if tmp is None else Path(tmp.name)
    for old in root.glob("out-*"):
        shutil.rmtree(old)
    spec = synth.VideoSpec(args.frames, 10, args.width, args.height, args.gop)
    _, gen_s = timed(
        lambda: synth.write_webvid(
            root / "in", shards=args.shards, per_shard=args.per_shard, spec=spec
        )
    )

    def opts(out: str, **kw: Any) -> ConvertOptions:
        return ConvertOptions(
            source="webvid",
            input=kw.pop("input", str(root / "in")),
            output=str(root / out),
            sampling=SamplingPolicy(num_frames=kw.pop("sample", args.sample)),
            size=args.size,
            num_workers=args.workers,
            progress=False,
            **kw,
        )

    clips, base_s = timed(baseline, opts("out-baseline"))
    _, one_s = timed(baseline, opts("out-baseline-1frame", sample=1))

    _, init_s = timed(lambda: ray.init(include_dashboard=False, logging_level="WARNING"))
    # Every convert() starts its own actor pool and read workers (Ray Data does not keep
    # them between datasets), so the measured run pays its start-up: it is printed apart.
    summary, ray_s = timed(convert, opts("out-vidray"))

    base_files = sorted((root / "out-baseline" / sink.DATA_DIR).glob("*.parquet"))
    base = frames_by_id(pq.ParquetDataset(base_files).read(columns=["id", "frames"]))
    ours = frames_by_id(sink.read_output(str(root / "out-vidray")))
    same = base == ours and len(base) == clips == summary.samples
    cpus = os.cpu_count() or 1

    print(
        f"input: {args.shards} shards x {args.per_shard} clips, {args.frames} frames "
        f"{args.width}x{args.height} gop {args.gop}; {args.sample} frames/clip at {args.size}p"
    )
    print(f"generate inputs: {gen_s:.1f} s")
    base_rate, ray_rate = clips / base_s, summary.samples / ray_s
    print(f"baseline (1 process): {base_rate:.2f} clips/s ({base_s:.1f} s)")
    workers = summary.manifest.get("workers")
    print(f"vidray (ray, {workers} workers): {ray_rate:.2f} clips/s ({ray_s:.1f} s)")
    steady = summary.steady_samples_per_s
    print(f"vidray / baseline, end to end: {ray_rate / base_rate:.2f}x (cpu_count {cpus})")
    print(f"vidray after its first unit: {steady:.2f} clips/s")
    print(f"vidray / baseline, after start-up: {steady / base_rate:.2f}x (cpu_count {cpus})")
    print(f"vidray start-up (to the first unit done): {summary.first_unit_s:.1f} s")
    print(f"ray.init: {init_s:.1f} s")
    print(f"baseline at 1 frame/clip: {1000 * one_s / clips:.1f} ms/clip")
    print(f"outputs match: {'yes' if same else 'NO'} ({len(base)} vs {len(ours)} rows)")
    ray.shutdown()
    if tmp:
        tmp.cleanup()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
