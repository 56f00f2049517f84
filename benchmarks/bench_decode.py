"""What the decoder decodes, against the least the GOP structure allows, and how fast,
next to a plain PyAV loop (and torchcodec, when it imports) on the same files and
targets.

Files: 10 s clips at 640x360 (x264), in three structures: B-frames (3) with 250-frame
GOPs, no B-frames, all intra. Targets: 8 uniform per clip (sparse), and 2 fps (dense).
For each decoder and file: frames decoded, their ratio to the minimum (the key frame
before each target's frame plus every reference frame between them in decode order,
plus the frame itself; reference frames are found by decoding the file with
``skip_frame=NONREF``) over all files and for the worst file, and seconds (wall, and
CPU of this process) for all clips, one thread, frames returned as RGB arrays (the
same work torchcodec's ``get_frames_played_at`` does): file by file, the decoders in
turn, ``--repeat`` rounds, and for each decoder the sum over files of its best time on
each file (the machine's speed drifts). Every decoder must return the same frame for
each target; the script checks it.

It prints the libavcodec files loaded: PyAV's own build, and torchcodec's (the system's
FFmpeg by default). ``--same-ffmpeg`` runs torchcodec on PyAV's build instead: the
script re-runs itself with ``LD_LIBRARY_PATH`` on a folder of links named as torchcodec
asks (``libavcodec.so.62``, ...) to the files in PyAV's ``av.libs``.

    uv run python benchmarks/bench_decode.py [--clips 12 --seconds 10 --repeat 3]
        [--same-ffmpeg] [--structures bframes3-gop250,no-b-gop250,all-intra]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import av

from vidray import synth
from vidray.media import sampling
from vidray.media.cpu import CpuVideo
from vidray.media.pictures import rgb24


@dataclass(frozen=True)
class Structure:
    name: str
    options: dict[str, str]


STRUCTURES = [
    Structure("bframes3-gop250", {"bf": "3", "g": "250", "preset": "medium"}),
    Structure("no-b-gop250", {"bf": "0", "g": "250", "preset": "medium"}),
    Structure("all-intra", {"g": "1", "preset": "veryfast"}),
]


def encode(seconds: int, options: dict[str, str], seed: int) -> bytes:
    spec = synth.VideoSpec(num_frames=seconds * 25, fps=25, width=640, height=360, seed=seed)
    return synth.encode_video(spec, options={"crf": "23", **options})


def structure_of(data: bytes) -> tuple[list[tuple[int, bool]], set[int], list[float], int]:
    """(packets in decode order as (pts, key), pts of reference frames, sorted frame
    times, the stream start)."""
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.video[0]
        packets = [(p.pts, p.is_keyframe) for p in c.demux(s) if p.pts is not None]
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.video[0]
        s.codec_context.thread_count = 1
        s.codec_context.skip_frame = "NONREF"
        refs = {f.pts for f in c.decode(s)}
    start = min(p for p, _ in packets)
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.video[0]
        tb = s.time_base
    times = sorted(float((p - start) * tb) for p, _ in packets)
    return packets, refs, times, start


def minimum(data: bytes, targets: list[float]) -> int:
    packets, refs, times, start = structure_of(data)
    with av.open(io.BytesIO(data)) as c:
        tb = c.streams.video[0].time_base
    order = [p for p, _ in packets]
    by_time = {float((p - start) * tb): p for p in order}
    needed: set[int] = set()
    for t in targets:
        shown = by_time[times[sampling.frame_shown_at(times, t)]]
        at = order.index(shown)
        key = max(i for i in range(at + 1) if packets[i][1])
        needed |= {order[i] for i in range(key, at) if order[i] in refs} | {shown}
    return len(needed)


def vidray_decode(data: bytes, targets: list[float]) -> tuple[list[float], int]:
    with CpuVideo(data) as video:
        got = []
        for _, t, frame in video.frames_shown(targets):
            if not got or got[-1] != t:
                rgb24(frame)
            got.append(t)
        return got, video.decoded


def pyav_loop(data: bytes, targets: list[float]) -> tuple[list[float], int]:
    """The obvious loop: decode forward from the start, keep the frame on screen at
    each target."""
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.video[0]
        s.codec_context.thread_count = 1
        start = s.start_time or 0
        got: list[float] = []
        prev = None
        decoded = 0
        i = 0
        for frame in c.decode(s):
            decoded += 1
            t = float((frame.pts - start) * s.time_base)
            while i < len(targets) and t > targets[i] + sampling.TIME_EPS:
                got.append(prev[0] if prev else t)
                if prev is not None and (len(got) < 2 or got[-2] != got[-1]):
                    prev[1].to_ndarray(format="rgb24")
                i += 1
            if i == len(targets):
                break
            prev = (t, frame)
        while i < len(targets):
            got.append(prev[0])
            i += 1
        return got, decoded


def torchcodec_decode(data: bytes, targets: list[float]) -> tuple[list[float], int] | None:
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception:
        return None
    decoder = VideoDecoder(data, num_ffmpeg_threads=1, seek_mode="exact")
    batch = decoder.get_frames_played_at(seconds=targets)
    return [float(t) for t in batch.pts_seconds], -1


SAME_FFMPEG = "VIDRAY_BENCH_SAME_FFMPEG"


def rerun_on_pyav_ffmpeg() -> NoReturn:
    """Run this script again with PyAV's FFmpeg libraries first on the loader's path,
    under the names torchcodec links against (``libavcodec-1a2b3c4d.so.62.28.102`` is
    linked as ``libavcodec.so.62``)."""
    libs = Path(av.__file__).resolve().parent.parent / "av.libs"
    links = Path(tempfile.mkdtemp(prefix="vidray-ffmpeg-"))
    for f in libs.iterdir():
        if m := re.fullmatch(r"(lib(?:av\w+|sw\w+))-[0-9a-f]{8}\.so\.(\d+)[.\d]*", f.name):
            (links / f"{m[1]}.so.{m[2]}").symlink_to(f)
    path = os.pathsep.join(filter(None, [str(links), str(libs), os.environ.get("LD_LIBRARY_PATH")]))
    env = {**os.environ, "LD_LIBRARY_PATH": path, SAME_FFMPEG: str(links)}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def ffmpeg_builds() -> str:
    """The libavcodec files this process has loaded (PyAV's own build; torchcodec's,
    when it imported: the system's, or PyAV's where LD_LIBRARY_PATH points it there)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown (no /proc)"
    return ", ".join(sorted(set(re.findall(r"\S*/libavcodec[^/\s]*", maps)))) or "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each decoder's best")
    ap.add_argument("--same-ffmpeg", action="store_true", help="torchcodec on PyAV's FFmpeg")
    names = [s.name for s in STRUCTURES]
    ap.add_argument(
        "--structures", default=",".join(names), help=f"comma-separated, of {', '.join(names)}"
    )
    args = ap.parse_args()
    chosen = args.structures.split(",")
    if unknown := sorted(set(chosen) - set(names)):
        ap.error(f"unknown structure {', '.join(unknown)}; choose from {', '.join(names)}")
    if args.same_ffmpeg and not os.environ.get(SAME_FFMPEG):
        rerun_on_pyav_ffmpeg()
    if links := os.environ.get(SAME_FFMPEG):  # the re-run: the links go when it ends
        atexit.register(shutil.rmtree, links, ignore_errors=True)
    with contextlib.suppress(Exception):
        import torchcodec.decoders  # noqa: F401  (loads its FFmpeg now, to name it below)
    print(f"libavcodec loaded: {ffmpeg_builds()}")
    decoders = {"vidray": vidray_decode, "pyav-loop": pyav_loop, "torchcodec": torchcodec_decode}
    print(f"{'structure':18} {'targets':10} {'decoder':11} {'decoded':>8} {'min':>6} "
          f"{'ratio':>6} {'worst':>6} {'s':>7} {'cpu s':>7} {'vs torchcodec':>13} "
          f"{'vs loop':>8}")  # fmt: skip
    for structure in (s for s in STRUCTURES if s.name in chosen):
        files = [encode(args.seconds, structure.options, seed) for seed in range(args.clips)]
        for kind in ("sparse-8", "dense-2fps"):
            policy = (
                sampling.SamplingPolicy(num_frames=8)
                if kind == "sparse-8"
                else sampling.SamplingPolicy(mode="fps", fps=2.0, max_frames=10**6)
            )
            targets = sampling.targets_for(policy, 0.0, float(args.seconds))
            least_per_file = [minimum(d, targets) for d in files]
            least = sum(least_per_file)
            answers: dict[str, list] = {}
            decoded: dict[str, int] = {}
            worst: dict[str, float] = {}  # the highest decoded / minimum of one file
            live = [n for n, fn in decoders.items() if fn(files[0], targets) is not None]
            # Each decoder's best wall and CPU seconds per file over the rounds, summed:
            # the machine's speed drifts, and a file's best is its least disturbed run.
            best = {name: [float("inf")] * len(files) for name in live}
            best_cpu = {name: [float("inf")] * len(files) for name in live}
            for _ in range(args.repeat):
                results: dict[str, list] = {name: [] for name in live}
                for i, data in enumerate(files):
                    # Every decoder in turn on one file (who goes first rotates).
                    for name in live[i % len(live) :] + live[: i % len(live)]:
                        t0, c0 = time.perf_counter(), time.process_time()
                        results[name].append(decoders[name](data, targets))
                        best_cpu[name][i] = min(best_cpu[name][i], time.process_time() - c0)
                        best[name][i] = min(best[name][i], time.perf_counter() - t0)
                for name in live:
                    answers[name] = [r[0] for r in results[name]]
                    decoded[name] = sum(r[1] for r in results[name])
                    worst[name] = max(
                        r[1] / m for r, m in zip(results[name], least_per_file, strict=True)
                    )
            seconds = {name: sum(best[name]) for name in live}
            cpu = {name: sum(best_cpu[name]) for name in live}
            for name in answers:
                if answers[name] != answers["pyav-loop"]:
                    raise SystemExit(f"{name} returned other frames than the plain loop")
            for name in seconds:
                ratio = f"{decoded[name] / least:6.2f}" if decoded[name] >= 0 else "     -"
                ratio += f" {worst[name]:6.2f}" if decoded[name] >= 0 else "      -"
                shown = decoded[name] if decoded[name] >= 0 else "-"
                tc = seconds.get("torchcodec")
                vs_tc = f"{tc / seconds[name]:12.2f}x" if tc else "  (not here)"
                vs_loop = f"{seconds['pyav-loop'] / seconds[name]:7.2f}x"
                print(f"{structure.name:18} {kind:10} {name:11} {shown!s:>8} {least:6d} "
                      f"{ratio} {seconds[name]:7.2f} {cpu[name]:7.2f} {vs_tc:>13} "
                      f"{vs_loop:>8}")  # fmt: skip


if __name__ == "__main__":
    main()
