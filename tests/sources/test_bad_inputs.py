"""A corpus of bad inputs: every sample is accounted for, each error has a reason, and
nothing is written outside OUTPUT."""

import io
import json
import tarfile
from pathlib import Path

import av
import numpy as np

from tests.conftest import add_tar_member as add
from vidray import output as vout
from vidray import synth
from vidray.config import ConvertOptions
from vidray.pipeline import convert
from vidray.schema import REASONS


def audio_only_mp4() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = 16000
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def test_bad_input_corpus(ray_head, tmp_path):
    good = synth.encode_mp4(synth.VideoSpec(num_frames=20))
    caption = json.dumps({"text": "a caption"}).encode()
    expected = {  # member key -> reason (None: converted)
        "good": None,
        "truncated": "decode_error",
        "zero": "decode_error",
        "random": "decode_error",
        "audio": "no_video_stream",
        "text": "decode_error",
        "noannotation": "missing_annotation",
        "novideo": "missing_video",
        "badjson": "bad_annotation",
        "notext": "bad_annotation",
        "../escape": None,
        "/abs/path": None,
        "link": "bad_member",
        "hardlink": "bad_member",
    }
    inp = tmp_path / "in"
    inp.mkdir()
    with tarfile.open(inp / "00000000.tar", "w") as tar:
        videos = {
            "good": good,
            "truncated": good[: len(good) // 2],
            "zero": b"",
            "random": np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes(),
            "audio": audio_only_mp4(),
            "text": b"this is not a video\n" * 20,
            "noannotation": good,
            "badjson": good,
            "notext": good,
            "../escape": good,
            "/abs/path": good,
        }
        for key, video in videos.items():
            add(tar, f"{key}.mp4", video)
            if key != "noannotation":
                meta = {"badjson": b"{oops", "notext": b'{"caption": "x"}'}.get(key, caption)
                add(tar, f"{key}.json", meta)
        add(tar, "novideo.json", caption)
        add(tar, "link.mp4", kind=tarfile.SYMTYPE)
        add(tar, "link.json", caption)
        add(tar, "hardlink.mp4", kind=tarfile.LNKTYPE)
        add(tar, "hardlink.json", caption)
    before = {p for p in Path(tmp_path).rglob("*")}

    out = tmp_path / "out"
    summary = convert(
        ConvertOptions.of(source="webvid", input=str(inp), output=str(out), size=32, progress=False)
    )

    rows = vout.read_output(str(out)).to_pylist()
    errors = vout.read_output(str(out), "errors").to_pylist()
    assert summary.samples == len(expected) == len(rows) + len(errors)
    got = {r["video"].split("#", 1)[1][:-4]: None for r in rows}
    got |= {e["video"].split("#", 1)[1][:-4]: e["reason"] for e in errors}
    assert got == expected
    assert all(e["message"] for e in errors)
    assert {e["reason"] for e in errors} <= set(REASONS)  # every code is documented
    # nothing outside OUTPUT changed
    after = {p for p in Path(tmp_path).rglob("*") if out not in p.parents and p != out}
    assert after == before
    assert not (tmp_path / "escape.mp4").exists()
