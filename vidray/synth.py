"""Small, real inputs in each source's native layout, with known ground truth.

Used by ``vidray demo``, the tests and the benchmarks. Every video is real H.264 in
an mp4 container, encoded with PyAV's bundled libx264. Each frame carries its own
index as a row of black and white blocks across the top (``BITS`` bits, most
significant first), so a test can read back which frame a JPEG shows and check it
against the timestamp vidray reported.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BITS = 10
BAND = 0.25  # share of the frame height used by the index band


@dataclass(frozen=True)
class VideoSpec:
    """What to encode: ``num_frames`` frames at ``fps``, key frame every ``gop``."""

    num_frames: int = 40
    fps: int = 10
    width: int = 160
    height: int = 96
    gop: int = 12
    seed: int = 0


def frame_image(index: int, spec: VideoSpec) -> np.ndarray:
    """The RGB picture of frame ``index``: index bits on top, a moving gradient below."""
    h, w = spec.height, spec.width
    img = np.empty((h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    phase = (index * 7 + spec.seed * 31) % 256
    img[..., 0] = (xx * 255 // max(1, w - 1) + phase) % 256
    img[..., 1] = (yy * 255 // max(1, h - 1) + 2 * phase) % 256
    img[..., 2] = (128 + spec.seed * 53) % 256
    band = max(8, int(h * BAND))
    block = w // BITS
    for bit in range(BITS):
        on = (index >> (BITS - 1 - bit)) & 1
        img[:band, bit * block : (bit + 1) * block] = 255 if on else 0
    return img


def read_index(rgb: np.ndarray) -> int:
    """Recover the frame index from a (possibly resized, JPEG-compressed) picture."""
    h, w = rgb.shape[:2]
    band = max(1, int(h * BAND))
    block = w / BITS
    value = 0
    for bit in range(BITS):
        x0 = int(bit * block + block * 0.3)
        x1 = max(x0 + 1, int(bit * block + block * 0.7))
        patch = rgb[band // 4 : max(band // 4 + 1, 3 * band // 4), x0:x1]
        value = (value << 1) | int(patch.mean() > 127)
    return value


def read_index_jpeg(data: bytes) -> int:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return read_index(np.asarray(im.convert("RGB")))


def encode_mp4(spec: VideoSpec) -> bytes:
    """Encode ``spec`` as an H.264 mp4 held in memory."""
    return encode_video(spec)


#: Encoder settings per codec: a key frame every ``gop`` frames where the codec has them.
_CODEC_OPTIONS = {
    "libx264": {"preset": "ultrafast", "crf": "18"},
    "libvpx": {},
    "gif": None,
    "wmv2": {},  # Windows Media in ``asf``, as old camera uploads are
}


def encode_video(
    spec: VideoSpec,
    *,
    container: str = "mp4",
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> bytes:
    """Encode ``spec`` in any container PyAV's FFmpeg writes (``mp4``, ``3gp``, ``webm``
    with ``libvpx``, ``matroska``, ``asf`` with ``wmv2``, ``gif`` with ``gif``/``rgb8``),
    held in memory. ``options`` replace the codec's default options (``g`` stays
    ``spec.gop`` unless they set it)."""
    if options is None:
        options = _CODEC_OPTIONS[codec]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=spec.fps)
        stream.width = spec.width
        stream.height = spec.height
        stream.pix_fmt = pix_fmt
        stream.time_base = Fraction(1, spec.fps)
        if options is not None:
            stream.options = {"g": str(spec.gop), **options}
        for i in range(spec.num_frames):
            frame = av.VideoFrame.from_ndarray(frame_image(i, spec), format="rgb24")
            frame = frame.reformat(format=pix_fmt)
            frame.pts = i
            frame.time_base = Fraction(1, spec.fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


CAPTIONS = [
    "Aerial view of a river winding through autumn forest.\n",
    "Close-up of hands kneading bread dough on a wooden table.",
    "  Time-lapse of clouds moving over a mountain ridge.  ",
    "A red tram passes through a busy city street at dusk.",
]


def webvid_json(key: str, i: int, spec: VideoSpec) -> dict:
    """A WebVid annotation with the published keys (angle brackets included)."""
    return {
        "<ID>": key,
        "<URL>": f"https://example.invalid/{key}.mp4",
        "<SCENECUT_FRAMES>": [[0, spec.num_frames]],
        "<SCENECUT_SECS>": [[0.0, spec.num_frames / spec.fps]],
        "text": CAPTIONS[i % len(CAPTIONS)],
        "duration": f"PT00H00M{spec.num_frames // spec.fps:02d}S",
        "fps": 29.97,  # describes the stock source, not the re-encode (as in the dataset)
        "width": 596,
        "height": 336,
        "num_frames": 300,
        "crf": 28,
        "page_dir": "007001_007050",
    }


def write_webvid(
    root: Path,
    *,
    shards: int = 2,
    per_shard: int = 6,
    spec: VideoSpec = VideoSpec(),
    corrupt: set[str] | None = None,
) -> list[str]:
    """Write ``shards`` tar shards ``00000000.tar``... of ``<key>.mp4`` + ``<key>.json``.

    Keys listed in ``corrupt`` get random bytes instead of an mp4. Returns all keys.
    """
    root.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    rng = np.random.default_rng(1234)
    n = 0
    for s in range(shards):
        with tarfile.open(root / f"{s:08d}.tar", "w") as tar:
            for _ in range(per_shard):
                key = str(1000000 + n * 37)
                vspec = VideoSpec(
                    num_frames=spec.num_frames + (n % 3) * 5,
                    fps=spec.fps,
                    width=spec.width,
                    height=spec.height,
                    gop=spec.gop,
                    seed=n,
                )
                if corrupt and key in corrupt:
                    video = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
                else:
                    video = encode_mp4(vspec)
                meta = json.dumps(webvid_json(key, n, vspec)).encode()
                for name, data in ((f"{key}.mp4", video), (f"{key}.json", meta)):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
                keys.append(key)
                n += 1
    return keys


def finevideo_json(i: int, spec: VideoSpec, n_qa: int) -> dict:
    """A FineVideo ``json`` cell with the published nesting."""
    secs = spec.num_frames / spec.fps
    return {
        "resolution": f"{spec.width}x{spec.height}",
        "duration_seconds": secs,
        "content_parent_category": "Education",
        "content_fine_category": "Science Experiments",
        "youtube_title": f"Synthetic video {i}",
        "youtube_upload_date": "20240101",
        "text_to_speech": "hello",
        "timecoded_text_to_speech": [
            {"start": "00:00:00.000", "end": "00:00:01.500", "text": "hello"}
        ],
        "original_video_filename": f"video_{i}.mp4",
        "content_metadata": {
            "title": f"Title {i}",
            "description": "A synthetic clip.",
            "characterList": [{"name": "Narrator", "description": "voice"}],
            "scenes": [{"sceneId": 1, "timestamps": {"start_timestamp": "00:00:00.000"}}],
            "storylines": {"description": "none", "scenes": [1]},
            "qAndA": [
                {"question": f"Question {k} about video {i}?", "answer": f"Answer {k}."}
                for k in range(n_qa)
            ],
            "trimmingSuggestions": [],
            "fps": float(spec.fps),
        },
    }


def write_finevideo(
    root: Path,
    *,
    files: int = 1,
    per_file: int = 4,
    qa_per_video: int = 3,
    spec: VideoSpec = VideoSpec(),
    row_group_size: int = 2,
) -> int:
    """Write ``data/train-XXXXX-of-NNNNN.parquet`` with ``mp4`` and ``json`` columns.

    Returns the number of conversations (question/answer pairs) written.
    """
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    total = 0
    n = 0
    for f in range(files):
        rows = []
        for _ in range(per_file):
            vspec = VideoSpec(
                num_frames=spec.num_frames + (n % 2) * 10,
                fps=spec.fps,
                width=spec.width,
                height=spec.height,
                gop=spec.gop,
                seed=100 + n,
            )
            rows.append({"mp4": encode_mp4(vspec), "json": finevideo_json(n, vspec, qa_per_video)})
            total += qa_per_video
            n += 1
        table = pa.Table.from_pylist(rows)
        table = table.cast(pa.schema([pa.field("mp4", pa.binary()), table.schema.field("json")]))
        pq.write_table(
            table, data / f"train-{f:05d}-of-{files:05d}.parquet", row_group_size=row_group_size
        )
    return total
