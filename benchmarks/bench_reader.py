"""The trainer-side reader (``vidray.reader.VidrayReader``) on a generated OUTPUT: samples
per second with frames as JPEG bytes, PIL images and numpy arrays, in the rows and the
clips layout, and the peak Python heap (tracemalloc) against ``shuffle_buffer``.

The OUTPUT is written through the real sink (``tests.output.write_unit``, ``vout.commit``): files
of ``--clips`` clips, each ``--questions`` questions on ``--frames`` JPEG frames of
synthetic pictures (``synth.frame_image``, different per clip) at 448x252; the clips
layout holds the same samples with each clip's frames once. Every configuration must
yield every sample once; the script checks it (exit 1 if not).

    uv run python benchmarks/bench_reader.py [--files 8 --clips 16 --questions 5 --frames 8]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from tests.output import write_unit
from vidray import output as vout
from vidray import synth
from vidray.io import storage
from vidray.reader import VidrayReader
from vidray.schema import CLIP_COLUMNS, CLIP_SCHEMA


def jpeg(index: int, spec: synth.VideoSpec) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(synth.frame_image(index, spec)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_output(root: Path, files: int, clips: int, questions: int, frames: int) -> int:
    out = storage.location(str(root))
    results = []
    for f in range(files):
        rows = []
        for c in range(clips):
            video = f"v{f:03d}-{c:03d}.mp4"
            spec = synth.VideoSpec(
                num_frames=frames, fps=25, width=448, height=252, seed=f * 997 + c
            )
            pictures = [jpeg(i, spec) for i in range(frames)]
            for q in range(questions):
                rows.append(
                    {
                        "id": f"bench:{video}:{q}",
                        "source": "bench",
                        "video": video,
                        "clip_start": None,
                        "clip_end": None,
                        "conversations": [
                            {"from": "human", "value": f"<image>\nQuestion {q}?"},
                            {"from": "gpt", "value": f"Answer {q}."},
                        ],
                        "query": f"Question {q}?",
                        "frames": pictures,
                        "frame_timestamps": [i / 25 for i in range(frames)],
                        "width": 448,
                        "height": 252,
                        "video_duration": frames / 25,
                        "video_fps": 25.0,
                        "label": None,
                        "classname": None,
                    }
                )
        unit = f"bench-{f:05d}"
        results.append(write_unit(out, unit, clips, rows, [], shard="bench", index=f))
    vout.commit(out, results, {"source": "bench"})
    return files * clips * questions


def to_clips(src: Path, dest: Path) -> None:
    import shutil

    shutil.copytree(src, dest)
    for rel in vout.committed_data_files(storage.location(str(dest))):
        rows = pq.read_table(dest / rel).to_pylist()
        clips: dict[str, dict] = {}
        for row in rows:
            clip = clips.setdefault(
                row["video"],
                {"clip_id": f"bench:{row['video']}", **{c: row[c] for c in CLIP_COLUMNS}},
            )
            clip.setdefault("questions", []).append(
                {k: row[k] for k in ("id", "conversations", "query")}
            )
        table = pa.Table.from_pylist(list(clips.values()), schema=CLIP_SCHEMA)
        pq.write_table(table, dest / rel, compression="zstd", row_group_size=vout.ROW_GROUP_ROWS)


def measure(root: Path, expected: int, **kw) -> tuple[float, float]:
    """(samples/s, peak traced MiB) of one full pass."""
    tracemalloc.start()
    t0 = time.perf_counter()
    n = sum(1 for _ in VidrayReader(str(root), **kw))
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    if n != expected:
        print(f"error: {kw} yielded {n} samples, expected {expected}", file=sys.stderr)
        sys.exit(1)
    return n / elapsed, peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--questions", type=int, default=5)
    p.add_argument("--frames", type=int, default=8)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows_out, clips_out = Path(tmp) / "rows", Path(tmp) / "clips"
        n = write_output(rows_out, a.files, a.clips, a.questions, a.frames)
        to_clips(rows_out, clips_out)
        size = {
            name: sum(f.stat().st_size for f in (root / "data").iterdir())
            for name, root in (("rows", rows_out), ("clips", clips_out))
        }
        print(f"{n} samples in {a.files} files; data bytes rows {size['rows']:,}, "
              f"clips {size['clips']:,}")  # fmt: skip
        for layout, root in (("rows", rows_out), ("clips", clips_out)):
            for frames in ("jpeg", "pil", "numpy"):
                rate, _ = measure(root, n, frames=frames, shuffle_buffer=256)
                print(f"{layout:5s} frames={frames:5s} {rate:8.0f} samples/s")
        for buffer in (16, 256, 1024):
            for layout, root in (("rows", rows_out), ("clips", clips_out)):
                _, peak = measure(root, n, frames="jpeg", shuffle_buffer=buffer)
                print(f"shuffle_buffer={buffer:5d} {layout:5s} peak heap {peak:7.1f} MiB")


if __name__ == "__main__":
    main()
