"""Trainer-ready frames (issue 15, point 4): a pixel budget and even frame counts as
Qwen2-VL / Qwen2.5-VL's processors expect them, and fps-regular frames for
LLaMA-Factory's ``video_fps``. Real conversions on the session's Ray head node, over
real H.264 from ``vidray.synth``; the option checks run through the real CLI."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import av
import pytest
from PIL import Image

from tests.helpers.datasets import convert_in_process, sharegptvideo
from vidray import output as vout
from vidray import synth
from vidray.cli import main
from vidray.config import ConvertOptions
from vidray.media import decode, images
from vidray.media.decoder import DecodeFailure
from vidray.media.sampling import PixelBudget, SamplingPolicy
from vidray.pipeline import ConvertError, convert, prepare

#: 3, 8 and 13 frames at 10 fps, 150x90 (no side a multiple of 28): the 3-frame clip
#: holds fewer frames than asked, and an odd number of them.
SHORT = synth.VideoSpec(num_frames=3, fps=10, width=150, height=90)


@pytest.fixture(scope="module")
def short_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("short")
    synth.write_webvid(root, shards=1, per_shard=3, spec=SHORT)
    return root


def run(inp: Path, out: Path, **kw) -> list[dict]:
    kw.setdefault("progress", False)
    convert(ConvertOptions.of(source="webvid", input=str(inp), output=str(out), **kw))
    return vout.read_output(str(out)).to_pylist()


def jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # decoded, not only the header
        return im.size


def videos_of(inp: Path) -> dict[str, bytes]:
    """The mp4 of every WebVid row, by the row's ``video`` reference."""
    out = {}
    for shard in sorted(inp.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for m in tar.getmembers():
                if m.name.endswith(".mp4"):
                    out[f"{shard.name}#{m.name}"] = tar.extractfile(m).read()  # type: ignore[union-attr]
    return out


def brute_force(video: bytes) -> list[tuple[float, int]]:
    """Every frame of the video, decoded in full: (presentation time, index it shows)."""
    with av.open(io.BytesIO(video)) as c:
        return [
            (float(f.time), synth.read_index(f.to_ndarray(format="rgb24")))
            for f in c.decode(video=0)
        ]


def test_pixel_budget_and_even_frames(ray_head, webvid_dir, short_dir, tmp_path):
    budget = PixelBudget(min_pixels=784, max_pixels=6000)
    policy = SamplingPolicy(num_frames=7, frame_multiple=2)  # 7 -> 8, as smart_nframes
    got = {}
    for inp in (webvid_dir, short_dir):
        rows = got[inp] = run(inp, tmp_path / inp.name, size=budget, sampling=policy)
        assert rows
        for r in rows:
            assert len(r["frames"]) % 2 == 0 and len(r["frames"]) <= 8
            for jpeg in r["frames"]:
                w, h = jpeg_size(jpeg)
                assert w % 28 == 0 and h % 28 == 0
                assert budget.min_pixels <= w * h <= budget.max_pixels
                assert (w, h) == (r["width"], r["height"])
    # 160x96: round -> 168x84 = 14112 > 6000, beta = sqrt(15360 / 6000) = 1.6:
    # floor(100 / 28) = 3 -> 84, floor(60 / 28) = 2 -> 56
    assert {(r["width"], r["height"]) for r in got[webvid_dir]} == {(84, 56)}
    # 150x90: round -> 140x84 = 11760 > 6000, beta = sqrt(13500 / 6000) = 1.5:
    # floor(100 / 28) = 3 -> 84, floor(60 / 28) = 2 -> 56
    assert {(r["width"], r["height"]) for r in got[short_dir]} == {(84, 56)}
    # 3, 8 and 13 frames asked for 8: the 3-frame clip yields each frame once (an odd
    # count), then its last frame again
    short = sorted(got[short_dir], key=lambda r: len(r["frames"]))
    assert [len(r["frames"]) for r in short] == [4, 8, 8]
    three = short[0]
    assert three["frames"][3] == three["frames"][2]
    assert three["frame_timestamps"] == [0.0, 0.1, 0.2, 0.2]


def test_budget_options_are_fingerprinted(ray_head, webvid_dir, tmp_path):
    out = tmp_path / "out"
    opts = ConvertOptions.of(
        source="webvid", input=str(webvid_dir), output=str(out), size=PixelBudget(), limit=2,
        sampling=SamplingPolicy(mode="fps", fps=2.0, regular=True, frame_multiple=2),
        progress=False,
    )  # fmt: skip
    convert(opts)
    run_file = (out / vout.RUN_FILE).read_text()
    for word in ('"min_pixels": 100352', '"max_pixels": 602112', '"regular": true',
                 '"frame_multiple": 2'):  # fmt: skip
        assert word in run_file
    for changed in (
        {"size": PixelBudget(max_pixels=500000)},
        {"sampling": SamplingPolicy(mode="fps", fps=2.0, frame_multiple=2)},
        {"sampling": SamplingPolicy(mode="fps", fps=2.0, regular=True)},
    ):
        with pytest.raises(ConvertError, match="different command"):
            prepare(opts.replace(**changed))
    assert prepare(opts).complete is not None  # the same command: already complete


@pytest.mark.parametrize(("fps", "max_frames"), [(4.0, 64), (20.0, 64), (4.0, 10)])
def test_fps_regular_frames_are_one_period_apart(ray_head, webvid_dir, tmp_path, fps, max_frames):
    policy = SamplingPolicy(mode="fps", fps=fps, max_frames=max_frames, regular=True)
    rows = run(webvid_dir, tmp_path / "out", size=160, sampling=policy)
    videos = videos_of(webvid_dir)
    assert rows
    for r in rows:
        frames = brute_force(videos[r["video"]])
        period = frames[1][0] - frames[0][0]  # 0.1 s: the synth videos are 10 fps
        duration = len(frames) * period
        # the grid, counted by hand: (k + 0.5) / F before the end, the first M of it
        grid = [(k + 0.5) / fps for k in range(int(duration * fps) + 1)]
        grid = [t for t in grid if t < duration - 1e-9][:max_frames]
        want = [max(i for i, (t, _) in enumerate(frames) if t <= g + 1e-6) for g in grid]
        assert r["frame_timestamps"] == pytest.approx([frames[i][0] for i in want], abs=1e-6)
        assert [synth.read_index_jpeg(j) for j in r["frames"]] == [frames[i][1] for i in want]
        # one frame per 1/F: read at video_fps = F, the list has the clip's timing
        ts = r["frame_timestamps"]
        for a, b in itertools.pairwise(ts):
            assert abs((b - a) - 1 / fps) <= period + 1e-6
        if fps > 1 / period:  # faster than the video: frames repeat, none is dropped
            assert len(ts) > len(set(ts))
    if fps > 10:
        # repeated frames export as they are: one file per position, read back whole
        dest = tmp_path / "lf"
        assert main(["export", "llamafactory", str(tmp_path / "out"), str(dest)]) == 0
        records = json.loads((dest / "webvid.json").read_text())
        assert sorted(len(r["videos"][0]) for r in records) == sorted(
            len(r["frames"]) for r in rows
        )


def test_frame_folders_follow_the_same_rules(tmp_path):
    """ShareGPTVideo's JPEG folders (2 fps) go through the stage's own path."""
    sharegptvideo.build(tmp_path / "in")
    a = f"sharegptvideo:video_caption_pretrain/{sharegptvideo.A}"  # 8 frames, 4 s
    regular = SamplingPolicy(mode="fps", fps=4.0, regular=True)
    rows, _ = convert_in_process(
        "sharegptvideo", tmp_path / "in", tmp_path / "r", sampling=regular, size=PixelBudget()
    )
    r = next(r for r in rows if r["id"] == a)
    # targets (k + 0.5) / 4 for k < 16; folder image i is shown from i / 2 s
    assert r["frame_timestamps"] == [(k // 2) / 2 for k in range(16)]
    assert [synth.read_index_jpeg(f) for f in r["frames"]] == [k // 2 for k in range(16)]
    assert r["width"] % 28 == 0 and r["height"] % 28 == 0
    assert all(jpeg_size(f) == (r["width"], r["height"]) for f in r["frames"])
    even = SamplingPolicy(num_frames=3, frame_multiple=2)  # 3 -> round(1.5) * 2 = 4
    rows, _ = convert_in_process("sharegptvideo", tmp_path / "in", tmp_path / "e", sampling=even)
    assert rows and all(len(r["frames"]) == 4 for r in rows)


def test_a_video_the_budget_cannot_fit_is_a_bad_size_failure():
    video = synth.encode_mp4(SHORT)  # 150x90
    # [3136, 3136]: rounding gives 140x84, flooring by beta = sqrt(13500 / 3136) gives
    # 56x28 = 1568, below the budget: refused, not delivered outside it
    with pytest.raises(DecodeFailure) as e:
        decode.sample_clips(
            video, clips=[decode.Clip()], policy=SamplingPolicy(num_frames=2),
            size=PixelBudget(3136, 3136), quality=90,
        )  # fmt: skip
    assert e.value.reason == "bad_size" and "gives 56x28" in e.value.message


def test_images_take_the_budget_too():
    png = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).save(png, format="PNG")
    stills = images.encode_images(
        [png.getvalue()], names=["x"], size=PixelBudget(784, 20000), quality=90
    )
    # round -> 308x196 = 60368 > 20000, beta = sqrt(60000 / 20000) = 1.732:
    # floor(173.2 / 28) = 6 -> 168, floor(115.5 / 28) = 4 -> 112
    assert stills.sizes == [(168, 112)] and jpeg_size(stills.jpegs[0]) == (168, 112)
    # an aspect above 200 is refused, as smart_resize refuses it: an error row's reason
    strip = io.BytesIO()
    Image.new("RGB", (402, 2)).save(strip, format="PNG")
    with pytest.raises(DecodeFailure) as e:
        images.encode_images([strip.getvalue()], names=["s"], size=PixelBudget(), quality=90)
    assert e.value.reason == "bad_size"


def vidray(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vidray", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--min-pixels", "3136", "--size", "224"], "--size and --min-pixels/--max-pixels exclude"),
        (["--max-pixels", "602112", "--native-size"], "--native-size and --min-pixels/--max"),
        (["--size", "224", "--native-size"], "--size and --native-size exclude each other"),
        (["--max-pixels", "700"], "--max-pixels must be >= 784"),
        (["--min-pixels", "9000", "--max-pixels", "8000"], "--min-pixels (9000) is above"),
        (["--fps-regular"], "--fps-regular needs --fps"),
        (["--fps", "2", "--max-frames", "3", "--frame-multiple", "4"], "--max-frames (3) is below"),
        (["--frame-multiple", "0"], "--frame-multiple must be a whole number >= 1"),
    ],
)
def test_bad_combinations_fail_in_one_line(tmp_path, extra, message):
    res = vidray("convert", "webvid", str(tmp_path), str(tmp_path / "out"), *extra)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidray: error: ") and message in lines[0]
    assert not (tmp_path / "out").exists()


def test_help_lists_the_trainer_options():
    text = vidray("convert", "--help").stdout
    for opt in ("--min-pixels", "--max-pixels", "--frame-multiple", "--fps-regular"):
        assert opt in text
