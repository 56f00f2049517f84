"""Output bytes of the two layouts (``--layout rows`` and ``--layout clips``) on
QA-heavy datasets: CLEVRER, NExT-QA and FineVideo, built with the test fixtures'
generators (``tests/helpers/datasets/``, ``vidray.synth``) but with as many questions per video
as the real datasets have (CLEVRER about 15, NExT-QA about 10, FineVideo about 5;
docs/formats.md) and frames at the default ``--size 336``, 8 frames a clip.

Each dataset is converted once per layout in this process (the pipeline's own reader and
decode stage, no Ray: the layout is a property of the sink, not of the engine), and the
script checks that the clips OUTPUT flattens to exactly the rows OUTPUT's rows.

    uv run python benchmarks/bench_layout.py [--videos N] [--size S] [--num-frames F]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.datasets import clevrer, nextqa, write_json, write_parquet
from vidray import output as vout
from vidray import synth
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.media.sampling import SamplingPolicy
from vidray.plan import build_source
from vidray.read import read_units
from vidray.stage import ConvertStage, StageConfig

#: Questions per video, as in the real datasets (see the module docstring).
QUESTIONS = {"clevrer": 15, "nextqa": 10, "finevideo": 5}


def spec(seed: int) -> synth.VideoSpec:
    # 480x320 at 10 fps, 4 s: frames are scaled to the 336 short side as real ones are
    return synth.VideoSpec(num_frames=40, fps=10, width=480, height=320, seed=seed)


def write_video(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(synth.encode_mp4(spec(seed)))


def build_clevrer(root: Path, videos: int) -> None:
    scenes = []
    for v in range(videos):
        write_video(root / f"video_train/video_00000-01000/video_{v:05d}.mp4", v)
        qs = []
        for q in range(QUESTIONS["clevrer"]):
            if q % 3:
                qs.append(clevrer.descriptive(q, f"What is the shape of object {q}?", "cube"))
            else:
                choices = [(f"The {c} object collides", "correct" if c == "red" else "wrong")
                           for c in ("red", "blue", "green", "gray")]  # fmt: skip
                qs.append(clevrer.choice(q, "explanatory", f"Which event causes {q}?", choices))
        scenes.append(clevrer.scene(v, qs))
    write_json(root / "train.json", scenes)


def build_nextqa(root: Path, videos: int) -> None:
    rows = []
    for v in range(videos):
        vid = 4000000000 + v
        write_video(root / "NExTVideo" / "0101" / f"{vid}.mp4", v)
        for q in range(QUESTIONS["nextqa"]):
            rows.append(nextqa.oe(vid, q, f"what does the girl do at moment {q}", "throw it"))
    write_parquet(root / "OE" / "train-00000-of-00001.parquet", rows, nextqa.OE_SCHEMA)


def build_finevideo(root: Path, videos: int) -> None:
    synth.write_finevideo(
        root, files=1, per_file=videos, qa_per_video=QUESTIONS["finevideo"], spec=spec(0)
    )


BUILDERS = {"clevrer": build_clevrer, "nextqa": build_nextqa, "finevideo": build_finevideo}


def convert(name: str, inp: Path, out: Path, layout: str, size: int, frames: int) -> None:
    opts = ConvertOptions.of(
        source=name,
        input=str(inp),
        output=str(out),
        sampling=SamplingPolicy(num_frames=frames),
        size=size,
        layout=layout,
        progress=False,
    )
    source = build_source(opts)
    stage = ConvertStage(StageConfig.from_options(opts, str(out), source, str(inp)))
    try:
        for unit in source.units(storage.location(str(inp))):
            for block in read_units(
                name, source.ctx, str(inp), unit, None, opts.out.samples_per_file
            ):
                stage(block)
    finally:
        stage.decoder.close()


def data_bytes(out: Path) -> int:
    return sum(p.stat().st_size for p in (out / "data").glob("*.parquet"))


def arrow_bytes(out: Path) -> int:
    """The data as a reader holds it once decoded (Arrow buffers; what
    ``datasets.load_dataset`` writes to its cache)."""
    return sum(pq.read_table(p).nbytes for p in (out / "data").glob("*.parquet"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=16, help="videos per dataset")
    p.add_argument("--size", type=int, default=336)
    p.add_argument(
        "--num-frames", type=int, nargs="+", default=[8, 32], help="one run per frame count"
    )
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidray-bench-layout-"))
    try:
        for frames_per_clip in args.num_frames:
            if run(work / str(frames_per_clip), args.videos, args.size, frames_per_clip):
                return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def run(work: Path, videos: int, size: int, num_frames: int) -> int:
    print(f"\n{videos} videos per dataset, {num_frames} frames a clip at --size {size}")
    print(f"{'dataset':10s} {'q/video':>7s} {'rows':>5s} {'clips':>5s} {'file rows':>11s} "
          f"{'file clips':>11s} {'ratio':>5s} {'arrow rows':>12s} {'arrow clips':>11s} "
          f"{'ratio':>5s} {'JPEG once':>11s}")  # fmt: skip
    for name, builder in BUILDERS.items():
        inp = work / name / "in"
        builder(inp, videos)
        outs = {}
        for layout in ("rows", "clips"):
            outs[layout] = work / name / layout
            convert(name, inp, outs[layout], layout, size, num_frames)
        rows = vout.read_output(str(outs["rows"])).to_pylist()
        flat = vout.read_output(str(outs["clips"])).to_pylist()
        key = lambda r: r["id"]  # noqa: E731
        if sorted(rows, key=key) != sorted(flat, key=key):
            print(f"{name}: the clips output does not flatten to the rows output")
            return 1
        clips = vout.read_output(str(outs["clips"]), flat=False).num_rows
        # the JPEG bytes of each clip once: what neither layout can store below
        frames = sum(len(f) for c in vout.read_output(str(outs["clips"]), flat=False)
                     .column("frames").to_pylist() for f in c)  # fmt: skip
        b_rows, b_clips = data_bytes(outs["rows"]), data_bytes(outs["clips"])
        a_rows, a_clips = arrow_bytes(outs["rows"]), arrow_bytes(outs["clips"])
        print(f"{name:10s} {QUESTIONS[name]:7d} {len(rows):5d} {clips:5d} {b_rows:11,d} "
              f"{b_clips:11,d} {b_rows / b_clips:5.2f} {a_rows:12,d} {a_clips:11,d} "
              f"{a_rows / a_clips:5.2f} {frames:11,d}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
