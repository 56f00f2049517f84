"""Memory of one decode worker on one large video: bytes handed over versus a reference.

A decode actor hands each sample to its decoder process. Handing over the video's bytes
(how shard sources' small clips travel) puts the whole file in the actor and, pickled,
in the decoder process; handing over a ``FileRef`` (how annotation sources' videos
travel) lets the decoder process open the file and read it by ranges. This measures
both on the same file and spans, each in a fresh process, and prints the peak RSS of
the handing process (the actor's side) and of its decoder process, what the decoder
process read (``rchar``, as a multiple of the video's size: the pipe's bytes when they
are handed over, the file's byte ranges with a reference), and checks that both give
the same frames.

    uv run python benchmarks/bench_video_by_reference.py [--seconds 60 --width 1280 ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

SPANS = [(5.0, 15.0), (20.0, 40.0), (45.0, 55.0)]


def write_video(path: Path, seconds: int, width: int, height: int, fps: int = 25) -> None:
    """Noise encoded losslessly: a large file per second, as long high-bitrate video is."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"qp": "0", "preset": "ultrafast", "g": str(2 * fps)}
        base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for i in range(seconds * fps):
            img = np.roll(base, i * 7, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def measure(mode: str, path: Path, frames: int) -> dict:
    """Run in a fresh process: decode SPANS the way ``mode`` hands the video over."""
    from vidray.io import storage
    from vidray.media.decode import Clip
    from vidray.media.isolate import IsolatedDecoder
    from vidray.media.sampling import SamplingPolicy

    decoder = IsolatedDecoder()
    t0 = time.monotonic()
    times = []
    for span in SPANS:
        if mode == "bytes":
            video = path.read_bytes()  # what the actor held for each sample
        else:
            video = storage.FileRef(str(path.parent), path.name)
        result = decoder.sample_clips(
            video,
            clips=[Clip(*span)],
            policy=SamplingPolicy(num_frames=frames),
            size=336,
            quality=90,
        )
        times.append([round(t, 6) for c in result.clips for t in getattr(c, "times", [])])
        del video
    # What the decoder process read: rchar counts read(2) on files and on the pipe.
    assert decoder._child is not None
    io_stats = Path(f"/proc/{decoder._child.pid}/io").read_text().split()
    decoder_read = int(io_stats[io_stats.index("rchar:") + 1])
    decoder.close()
    return {
        "mode": mode,
        "seconds": round(time.monotonic() - t0, 2),
        "handing_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "decoder_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "decoder_read": decoder_read,
        "times": times,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--frames", type=int, default=8, help="frames per span")
    ap.add_argument("--measure", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]), args.frames)))
        return 0
    with tempfile.TemporaryDirectory(prefix="vidray-bench-") as tmp:
        path = Path(tmp) / "long.mp4"
        write_video(path, args.seconds, args.width, args.height)
        size_mib = path.stat().st_size / 2**20
        print(f"video: {args.seconds} s {args.width}x{args.height}, {size_mib:.0f} MiB; "
              f"spans {SPANS}, {args.frames} frames each")  # fmt: skip
        results = {}
        for mode in ("bytes", "ref"):
            cmd = [sys.executable, __file__, "--frames", str(args.frames),
                   "--measure", mode, str(path)]  # fmt: skip
            results[mode] = json.loads(subprocess.run(cmd, capture_output=True, text=True,
                                                      check=True).stdout)  # fmt: skip
        for r in results.values():
            handing, decoder = r["handing_mib"], r["decoder_mib"]
            read = r["decoder_read"] / path.stat().st_size
            print(f"{r['mode']:5s}  handing process {handing:7.0f} MiB peak, "
                  f"decoder process {decoder:7.0f} MiB peak, "
                  f"decoder read {read:.2f}x the file, {r['seconds']:6.2f} s")  # fmt: skip
        same = results["bytes"]["times"] == results["ref"]["times"]
        print(f"same frames: {same}")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
