"""The decoder child's heap: glibc's default top pad against the one vidray sets.

Each decode worker hands its samples to a child process (``vidray.media.isolate``).
This runs two such children side by side on the same clips and requests, through
``IsolatedDecoder`` as the pipeline does (the video's bytes over the pipe, frames
sampled, scaled to 336 px and JPEG-encoded in the child): one with glibc's defaults
(no ``MALLOC_TOP_PAD_``: setting any such variable, even to its default value, also
turns off glibc's dynamic mmap threshold), one with vidray's (``HEAP_TOP_PAD``). Rounds
alternate which child goes first. For each it prints the child's CPU seconds (from
``/proc``: best round and median), its minor page faults per decoded frame, and its
peak RSS, and checks that both children return the same frames.

Clips as in ``bench_decode.py``: 10 s at 640x360, all-intra with 2 fps targets and
3 B-frames (GOP 250) with 8 uniform targets.

    uv run python benchmarks/bench_child_heap.py [--clips 12 --rounds 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from bench_decode import STRUCTURES, encode

from vidray.cluster import proc_stat
from vidray.media import decode, isolate, sampling

CASES = [("all-intra", "dense-2fps"), ("bframes3-gop250", "sparse-8")]


def child_usage(pid: int) -> tuple[float, int, int]:
    """(CPU seconds, minor faults, peak RSS in KiB) of a live process."""
    fields = proc_stat(pid)
    minflt, utime, stime = int(fields[7]), int(fields[11]), int(fields[12])
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return (utime + stime) / os.sysconf("SC_CLK_TCK"), minflt, hwm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    structures = {s.name: s for s in STRUCTURES}
    if "MALLOC_TOP_PAD_" in os.environ:
        raise SystemExit("unset MALLOC_TOP_PAD_: it would set both children's heaps")
    children = {
        "glibc default": isolate.IsolatedDecoder(heap_top_pad=None),
        f"vidray ({isolate.HEAP_TOP_PAD >> 20} MiB)": isolate.IsolatedDecoder(),
    }
    for child in children.values():
        child.start()
    print(f"{'structure':16} {'targets':10} {'child':22} {'cpu s best':>10} {'median':>7} "
          f"{'faults/frame':>12} {'peak RSS':>9} {'vs default':>10}")  # fmt: skip
    for name, kind in CASES:
        files = [encode(10, structures[name].options, seed) for seed in range(args.clips)]
        policy = (
            sampling.SamplingPolicy(num_frames=8)
            if kind == "sparse-8"
            else sampling.SamplingPolicy(mode="fps", fps=2.0, max_frames=10**6)
        )
        request = {"clips": [decode.Clip()], "policy": policy, "size": 336, "quality": 90}
        cpu: dict[str, list[float]] = {c: [] for c in children}
        faults: dict[str, list[float]] = {c: [] for c in children}
        answers: dict[str, list] = {}
        for r in range(args.rounds):
            order = list(children) if r % 2 == 0 else list(children)[::-1]
            for label in order:
                child = children[label]
                pid = child._start().pid
                cpu0, flt0, _ = child_usage(pid)
                got = [child.sample_clips(data, **request) for data in files]
                cpu1, flt1, _ = child_usage(pid)
                frames = sum(v.decoded for v in got)
                cpu[label].append(cpu1 - cpu0)
                faults[label].append((flt1 - flt0) / frames)
                answers[label] = [[(c.times, c.jpegs) for c in v.clips] for v in got]
        first = next(iter(answers.values()))
        if any(a != first for a in answers.values()):
            raise SystemExit("the two children returned different frames")
        base = min(next(iter(cpu.values())))
        for label, child in children.items():
            peak = child_usage(child._start().pid)[2] >> 10
            print(f"{name:16} {kind:10} {label:22} {min(cpu[label]):10.2f} "
                  f"{statistics.median(cpu[label]):7.2f} {min(faults[label]):12.0f} "
                  f"{peak:6d} MiB {base / min(cpu[label]):9.2f}x")  # fmt: skip
    for child in children.values():
        child.close()


if __name__ == "__main__":
    main()
