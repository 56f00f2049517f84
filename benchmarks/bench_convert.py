"""Throughput of ``vidray convert`` against the obvious single-process script, in one run.

Input: WebVid tar shards (``<key>.mp4`` + ``<key>.json``) of 10 s 640x360 H.264 clips
with 3 B-frames and 250-frame GOPs (x264 ``veryfast``), 288 clips in 4 shards by
default. ``--unique`` distinct clips are encoded and repeated under new keys: the decode
work per clip is the same, the generation takes seconds instead of minutes.

Lines printed, each clips/s and its ratio to the plain loop:

- **plain loop** (the baseline): what a one-file conversion script does, written here
  and sharing no code with vidray: per shard, read the tar, per clip open the mp4 with
  PyAV, decode forward keeping the frame on screen (the last with pts <= t) at each of
  8 uniform targets, swscale it to 336 px short side (rgb24), JPEG q90 with Pillow, and
  write one Parquet file per shard. It runs first and again last, and the faster run
  is the baseline (the machine's speed drifts within a run);
- **vidray end to end**: ``python -m vidray convert webvid IN OUT`` as a user runs it
  (a subprocess that starts its own local Ray instance and stops it), wall clock;
- **vidray after start-up**: the same conversion in this process on a Ray instance
  that already converted once (its worker processes and decoder processes are up),
  the whole run's rate (and, on a line of its own, the rate after its first unit);
- **vidray's stage in one process**: the pipeline's own reader and stage called in a
  loop without Ray (the comparison this benchmark made before the plain loop).

Then the CPU of the plain loop and of the CLI in all its processes (polled from
``/proc``), and the CLI's CPU by kind of process: decoder processes, Ray Data's task
workers and actors, Ray's services, the driver.

The script checks that the plain loop and vidray chose the same frames (timestamps per
clip) and exits 1 if not.

    uv run python benchmarks/bench_convert.py [--shards 4 --per-shard 72 --unique 24]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import pyarrow as pa
import pyarrow.parquet as pq
from bench_listing import free_port
from PIL import Image

from vidray import output as vout
from vidray import synth
from vidray.cluster import proc_stat
from vidray.config import DEFAULT_SIZE, ConvertOptions
from vidray.io import storage
from vidray.media.sampling import SamplingPolicy
from vidray.pipeline import build_source, convert
from vidray.read import read_units
from vidray.stage import ConvertStage, StageConfig

FPS = 25


def encode(seconds: int, width: int, height: int, bframes: int, gop: int, seed: int) -> bytes:
    spec = synth.VideoSpec(seconds * FPS, FPS, width, height, gop, seed)
    return synth.encode_video(spec, options={"preset": "veryfast", "crf": "23", "bf": str(bframes)})


def write_input(root: Path, args: argparse.Namespace) -> int:
    """WebVid shards of ``args.unique`` distinct clips repeated; returns the clip count."""
    videos = [
        encode(args.seconds, args.width, args.height, args.bframes, args.gop, seed)
        for seed in range(args.unique)
    ]
    spec = synth.VideoSpec(args.seconds * FPS, FPS, args.width, args.height, args.gop)
    root.mkdir(parents=True)
    n = 0
    for s in range(args.shards):
        with tarfile.open(root / f"{s:08d}.tar", "w") as tar:
            for _ in range(args.per_shard):
                key = str(1000000 + n)
                meta = json.dumps(synth.webvid_json(key, n, spec)).encode()
                for name, data in ((f"{key}.mp4", videos[n % len(videos)]), (f"{key}.json", meta)):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                n += 1
    return n


# -- the plain loop: no vidray code below this line until the next section -------------


def plain_clip(data: bytes, num_frames: int, short: int) -> tuple[list[bytes], list[float]]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base)
        step = duration / num_frames
        targets = [(i + 0.5) * step for i in range(num_frames)]
        scale = short / min(stream.width, stream.height)
        w, h = round(stream.width * scale / 2) * 2, round(stream.height * scale / 2) * 2
        jpegs: list[bytes] = []
        times: list[float] = []
        previous = None
        for frame in container.decode(stream):
            t = float(frame.pts * frame.time_base)
            while targets and t > targets[0] + 1e-6:  # the previous frame is on screen
                if previous is not None and (not times or times[-1] != previous[0]):
                    times.append(previous[0])
                    jpegs.append(to_jpeg(previous[1], w, h))
                targets.pop(0)
            if not targets:
                break
            previous = (t, frame)
        for _ in targets:  # targets after the last frame: the last frame stays on screen
            if previous is not None and (not times or times[-1] != previous[0]):
                times.append(previous[0])
                jpegs.append(to_jpeg(previous[1], w, h))
    return jpegs, times


def to_jpeg(frame: av.VideoFrame, w: int, h: int) -> bytes:
    rgb = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def plain_loop(inp: Path, out: Path, num_frames: int, short: int) -> int:
    out.mkdir(parents=True)
    clips = 0
    for shard in sorted(inp.glob("*.tar")):
        rows: dict[str, list[Any]] = {"id": [], "frames": [], "frame_timestamps": []}
        with tarfile.open(shard) as tar:
            for member in tar:
                if not member.name.endswith(".mp4"):
                    continue
                data = tar.extractfile(member).read()
                jpegs, times = plain_clip(data, num_frames, short)
                rows["id"].append(member.name.removesuffix(".mp4"))
                rows["frames"].append(jpegs)
                rows["frame_timestamps"].append(times)
                clips += 1
        pq.write_table(pa.table(rows), out / f"{shard.stem}.parquet")
    return clips


# -- vidray ------------------------------------------------------------------------------


def timed_plain_loop(
    inp: Path, out: Path, args: argparse.Namespace, clips: int
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one plain-loop run."""
    t0, c0 = time.perf_counter(), time.process_time()
    assert plain_loop(inp, out, args.sample, args.size) == clips
    return time.perf_counter() - t0, time.process_time() - c0


def stage_loop(opts: ConvertOptions) -> int:
    """vidray's own reader and stage in one process, no Ray."""
    source = build_source(opts)
    inp = storage.location(opts.dataset.input)
    stage = ConvertStage(
        StageConfig.from_options(opts, opts.out.output, source, opts.dataset.input)
    )
    clips = 0
    for shard in source.units(inp):
        for block in read_units(
            opts.dataset.source,
            source.ctx,
            opts.dataset.input,
            shard,
            None,
            opts.out.samples_per_file,
        ):
            clips += sum(stage(block).column("samples").to_pylist())
    return clips


def tree_cpu_s(
    root: int | list[int],
    seen: dict[int, float],
    names: dict[int, str] | None = None,
    parents: dict[int, int] | None = None,
) -> None:
    """Record in ``seen`` the CPU seconds so far of ``root`` (or each of several) and
    every process below it, from ``/proc`` (a process's last reading stays when it
    exits); in ``names``, each one's command line (the last one other than an idle Ray
    worker's); in ``parents``, the parent each process had when first seen (an orphan
    moves to this process, the subreaper, when its Ray worker exits)."""
    hz = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    ticks: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = proc_stat(proc.name)
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(proc.name))
        if parents is not None:
            parents.setdefault(int(proc.name), int(fields[1]))
        ticks[int(proc.name)] = (int(fields[11]) + int(fields[12])) / hz
    todo = [root] if isinstance(root, int) else list(root)
    while todo:
        pid = todo.pop()
        if pid in ticks:
            seen[pid] = max(seen.get(pid, 0.0), ticks[pid])
            if names is not None:
                with contextlib.suppress(OSError):
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    name = cmd.decode(errors="replace").strip()
                    if name and (pid not in names or "IDLE" not in name):
                        names[pid] = name
        todo.extend(children.get(pid, ()))


def kind_of(cmdline: str) -> str:
    """What a process of the CLI's tree is, from its command line."""
    if "vidray.media.isolate" in cmdline:
        return "decoder processes"
    if "-m vidray convert" in cmdline:
        return "the driver (the CLI)"
    words = cmdline.split() or ["?"]
    if words[0].startswith("ray::"):
        title = words[0].removeprefix("ray::")
        if title.startswith("_"):  # _StatsActor, _AutoscalingCoordinatorActor, ...
            return f"Ray Data actor {title}"
        if title.endswith("Agent"):
            return f"Ray service {title}"
        return "Ray task workers (reads, converts, idle)"
    program = Path(words[0]).name
    if program.startswith("python"):  # the script: the first word that is not a flag
        program = Path(next((w for w in words[1:] if not w.startswith("-")), "?")).name
    return f"Ray service {program}"


def cli(
    args: argparse.Namespace, inp: Path, out: Path, nodes: Nodes | None = None
) -> tuple[float, float, dict[str, list[float]]]:
    """(wall seconds, CPU seconds of the CLI and every process of its Ray instance,
    polled from ``/proc`` every 0.25 s, those seconds by kind of process). The
    conversion's own time is in OUTPUT's ``_SUCCESS`` (``elapsed_s``): the rest of the
    wall time is Python's and Ray's start-up and shutdown. With ``nodes``, the CLI
    joins that cluster, and every process of its nodes counts."""
    cmd = [sys.executable, "-m", "vidray", "convert", "webvid", str(inp), str(out), "--quiet",
           "--num-frames", str(args.sample), "--size", str(args.size)]  # fmt: skip
    if args.workers:
        cmd += ["--num-workers", str(args.workers)]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    roots: list[int] = []
    if nodes is not None:
        cmd += ["--ray-address", nodes.address]
        env = nodes.env
        roots = [pid for pids in nodes.roots.values() for pid in pids]
    seen: dict[int, float] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    names: dict[int, str] = {}
    parents: dict[int, int] = {}
    while proc.poll() is None:
        tree_cpu_s([proc.pid, *roots], seen, names, parents)
        time.sleep(0.25)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"vidray convert failed: exit {proc.returncode}")
    if nodes is not None:  # by node: the CLI runs on the head's machine
        nodes.kinds = {}
        for node, pids in nodes.roots.items():
            mine = _below(set(pids) | ({proc.pid} if node == "head" else set()), parents)
            for pid in mine & seen.keys():
                kind = kind_of(names.get(pid, "?"))
                nodes.kinds.setdefault(node, {}).setdefault(kind, []).append(seen[pid])
    kinds: dict[str, list[float]] = {}
    for pid, cpu in seen.items():
        kinds.setdefault(kind_of(names.get(pid, "?")), []).append(cpu)
    return wall, sum(seen.values()), kinds


@dataclass
class Nodes:
    """A test cluster on this machine: its head's address, the environment a client
    needs, each node's processes as its ``ray start`` left them, and (after ``cli``)
    the CPU seconds of each node's processes by kind."""

    address: str
    env: dict[str, str]
    roots: dict[str, list[int]]
    kinds: dict[str, dict[str, list[float]]] = field(default_factory=dict)


def start_nodes(count: int, temp: Path) -> Nodes:
    """``count`` nodes on this machine, started as users start them (``ray start``,
    token authentication), its cores split between them. This process becomes their
    subreaper, so every process of a node stays below it."""
    import secrets

    from vidray.cluster import _become_subreaper, descendants, node_env

    if not _become_subreaper():
        raise SystemExit("--nodes needs Linux (PR_SET_CHILD_SUBREAPER)")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    # Its nodes send no usage stats (``--disable-usage-stats``), nor does the CLI's Ray
    # Data (its usage actor is a process of its own).
    env |= {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_USAGE_STATS_ENABLED": "0", **node_env()}  # fmt: skip
    ray = str(Path(sys.executable).parent / "ray")
    cpus = max(1, (os.cpu_count() or 1) // count)
    port = free_port()  # for the head's GCS
    nodes = Nodes(f"127.0.0.1:{port}", env, {})
    for k in range(count):
        before = set(descendants())
        where = [f"--address={nodes.address}"]
        if k == 0:
            where = ["--head", f"--port={port}", "--include-dashboard=false"]
        subprocess.run([ray, "start", *where, f"--num-cpus={cpus}", "--num-gpus=0",
                        f"--temp-dir={temp}", "--disable-usage-stats"],
                       check=True, capture_output=True, env=env, timeout=120)  # fmt: skip
        nodes.roots["head" if k == 0 else f"node {k + 1}"] = sorted(set(descendants()) - before)
    return nodes


def _below(pids: set[int], parents: dict[int, int]) -> set[int]:
    """``pids`` and the processes below them, by ``parents`` (pid -> parent pid)."""
    found = set(pids)
    while more := {p for p, parent in parents.items() if parent in found} - found:
        found |= more
    return found


def chosen_times(table: pa.Table) -> dict[str, list[float]]:
    """Clip key -> the times of its frames (vidray's ids are ``webvid:<shard>#<key>.mp4``)."""
    ids = [i.rpartition("#")[2].removesuffix(".mp4") for i in table.column("id").to_pylist()]
    times = table.column("frame_timestamps").to_pylist()
    return {i: [round(t, 4) for t in ts] for i, ts in zip(ids, times, strict=True)}


def cluster_lines(
    args: argparse.Namespace,
    inp: Path,
    root: Path,
    clips: int,
    plain_s: float,
    plain: dict[str, list[float]],
) -> bool:
    """The CLI on a test cluster of ``args.nodes`` nodes: its rate, and its CPU summed
    over the nodes and per node, by kind of process. Whether it chose the plain loop's
    frames."""
    from vidray.cluster import stop_descendants

    temp = Path(tempfile.mkdtemp(prefix="vidray-bench-ray-"))
    try:
        nodes = start_nodes(args.nodes, temp)
        wall, cpu, kinds = cli(args, inp, root / "out-nodes", nodes)
    finally:
        stop_descendants()
        shutil.rmtree(temp, ignore_errors=True)
    print(
        f"{f'vidray on {args.nodes} nodes (CLI, ray start)':44s} {clips / wall:6.2f} clips/s "
        f"in {wall:.1f} s  {plain_s / wall:.2f}x"
    )
    decoding = sum(kinds.get("decoder processes", []))
    print(
        f"  CPU over the nodes {cpu:.1f} s ({1000 * cpu / clips:.1f} ms/clip): decoder "
        f"processes {100 * decoding / cpu:.1f}%, orchestration {100 * (cpu - decoding) / cpu:.1f}%"
    )
    for node, by_kind in nodes.kinds.items():
        total = sum(sum(c) for c in by_kind.values())
        print(f"  {node}: {total:.1f} s")
        for kind, cpus in sorted(by_kind.items(), key=lambda kv: -sum(kv[1])):
            print(f"    {kind:52s} {sum(cpus):5.1f} s in {len(cpus)} process(es)"
                  f" ({1000 * sum(cpus) / clips:5.1f} ms/clip)")  # fmt: skip
    return chosen_times(vout.read_output(str(root / "out-nodes"))) == plain


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--per-shard", type=int, default=72)
    p.add_argument("--unique", type=int, default=24, help="distinct clips encoded")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--bframes", type=int, default=3)
    p.add_argument("--gop", type=int, default=250)
    p.add_argument("--sample", type=int, default=8, help="frames sampled per clip")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help="short side (px)")
    p.add_argument("--workers", type=int, default=None, help="decode workers (default: auto)")
    p.add_argument("--keep", type=Path, default=None, help="work here (the input is reused)")
    p.add_argument(
        "--nodes",
        type=int,
        default=0,
        help="also convert on a test cluster of this many nodes (ray start) on this machine",
    )
    p.add_argument(
        "--end-to-end-only",
        action="store_true",
        help="only the plain loop and the CLI (for large sizes: --shards 32 gives 2,304 clips)",
    )
    args = p.parse_args()
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="vidray-bench-")
    root: Path = args.keep if tmp is None else Path(tmp.name)
    for old in root.glob("out-*"):
        shutil.rmtree(old)
    inp = root / "in"
    if not inp.exists():
        t0 = time.perf_counter()
        write_input(inp, args)
        print(f"generated the input in {time.perf_counter() - t0:.1f} s")
    clips = args.shards * args.per_shard
    print(
        f"input: {args.shards} shards x {args.per_shard} clips ({args.unique} distinct), "
        f"{args.seconds} s {args.width}x{args.height}, {args.bframes} B-frames, GOP {args.gop}; "
        f"{args.sample} frames/clip at {args.size}p; cpu_count {os.cpu_count()}"
    )

    plain_s, plain_cpu = timed_plain_loop(inp, root / "out-plain", args, clips)
    opts = ConvertOptions.of(
        source="webvid",
        input=str(inp),
        output=str(root / "out-stage"),
        sampling=SamplingPolicy(num_frames=args.sample),
        size=args.size,
        num_workers=args.workers,
        progress=False,
    )
    stage_s = None
    if not args.end_to_end_only:
        t0 = time.perf_counter()
        assert stage_loop(opts) == clips
        stage_s = time.perf_counter() - t0
    cli_s, cli_cpu, cli_kinds = cli(args, inp, root / "out-cli")
    converting_s = json.loads((root / "out-cli" / vout.names.MARKER).read_text())["elapsed_s"]

    summary = None
    if not args.end_to_end_only:
        from vidray import cluster

        cluster.connect(None, quiet=True)
        convert(opts.replace(output=str(root / "out-warm-up"), limit=8))
        summary = convert(opts.replace(output=str(root / "out-vidray")))
        cluster.stop()
    # The plain loop again, last: this machine's speed drifts within a run, and the
    # baseline is the faster of its two runs.
    again_s, again_cpu = timed_plain_loop(inp, root / "out-plain-again", args, clips)
    print(f"plain loop: {plain_s:.1f} s first, {again_s:.1f} s last; the faster is the baseline")
    if again_s < plain_s:
        plain_s, plain_cpu = again_s, again_cpu

    plain = chosen_times(pq.ParquetDataset(sorted((root / "out-plain").glob("*.parquet"))).read())
    outputs = ["out-cli"] if args.end_to_end_only else ["out-cli", "out-vidray"]
    ours = {d: chosen_times(vout.read_output(str(root / d))) for d in outputs}
    same = all(o == plain for o in ours.values()) and len(plain) == clips

    base = clips / plain_s
    lines = [
        ("plain loop (1 process, the baseline)", base, plain_s),
        ("vidray end to end (CLI, own Ray)", clips / cli_s, cli_s),
    ]
    if summary is not None and stage_s is not None:
        lines += [
            ("vidray after start-up (Ray up, workers warm)", summary.samples_per_s,
             summary.elapsed_s),
            ("  the same, after its first unit", summary.steady_samples_per_s, None),
            ("vidray's stage in one process, no Ray", clips / stage_s, stage_s),
        ]  # fmt: skip
    for name, rate, secs in lines:
        took = f" in {secs:.1f} s" if secs is not None else ""
        print(f"{name:44s} {rate:6.2f} clips/s{took}  {rate / base:.2f}x")
    startup_s = cli_s - converting_s
    print(
        f"CLI: converting {converting_s:.1f} s; Python's and Ray's start-up and shutdown "
        f"{startup_s:.1f} s ({100 * startup_s / cli_s:.0f}% of its wall time)"
    )
    if summary is not None:
        print(f"vidray in-process run: first unit after {summary.first_unit_s:.1f} s")
    cores = os.cpu_count() or 1
    print(
        f"CPU: plain loop {plain_cpu:.1f} s ({plain_cpu / plain_s:.2f} cores: FFmpeg's own "
        f"threads); CLI {cli_cpu:.1f} s in all its processes, {cli_cpu / cli_s:.2f} of "
        f"{cores} cores; with every core busy that CPU takes {cli_cpu / cores:.1f} s, "
        f"{plain_s / (cli_cpu / cores):.2f}x the plain loop at best"
    )
    print(
        f"CPU per clip: plain loop {1000 * plain_cpu / clips:.1f} ms, "
        f"CLI {1000 * cli_cpu / clips:.1f} ms"
    )
    for kind, cpus in sorted(cli_kinds.items(), key=lambda kv: -sum(kv[1])):
        share, per_clip = 100 * sum(cpus) / cli_cpu, 1000 * sum(cpus) / clips
        print(f"  CLI CPU: {kind:52s} {sum(cpus):5.1f} s in {len(cpus)} process(es)"
              f" ({share:4.1f}%, {per_clip:5.1f} ms/clip)")  # fmt: skip
    decoding = sum(sum(cpus) for kind, cpus in cli_kinds.items() if kind == "decoder processes")
    print(
        f"  CLI CPU: orchestration (everything but the decoder processes) "
        f"{cli_cpu - decoding:.1f} s ({100 * (cli_cpu - decoding) / cli_cpu:.1f}%, "
        f"{1000 * (cli_cpu - decoding) / clips:.1f} ms/clip)"
    )
    if args.nodes:
        same = cluster_lines(args, inp, root, clips, plain_s, plain) and same
    print(f"frames chosen match the plain loop: {'yes' if same else 'NO'}")
    if tmp:
        tmp.cleanup()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
