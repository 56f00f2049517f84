"""Poison samples: a decoder crash or hang costs one sample, never the job."""

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.media import one_clip
from vidray import output as vout
from vidray import synth
from vidray.config import ConvertOptions
from vidray.media import decode, isolate
from vidray.media.isolate import IsolatedDecoder
from vidray.media.sampling import SamplingPolicy
from vidray.pipeline import convert

KW = {"policy": SamplingPolicy(num_frames=4), "clip": (None, None), "size": 32, "quality": 90}


@pytest.fixture
def decoder():
    d = IsolatedDecoder(timeout_s=2.0, attempts=2, module="tests.helpers.poison_child")
    yield d
    d.close()


def test_isolated_result_equals_in_process(decoder):
    data = synth.encode_mp4(synth.VideoSpec(num_frames=30))
    assert one_clip(data, sample=decoder.sample_clips, **KW) == one_clip(data, **KW)


def _child_environ(decoder: IsolatedDecoder) -> dict[str, str]:
    raw = Path(f"/proc/{decoder._start().pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_the_child_heap_keeps_its_top_pad_unless_the_environment_sets_one(monkeypatch):
    """The child starts with glibc's ``MALLOC_TOP_PAD_`` at ``HEAP_TOP_PAD``, and a value
    the user set wins; either way it decodes."""
    data = synth.encode_mp4(synth.VideoSpec(num_frames=20))
    monkeypatch.delenv("MALLOC_TOP_PAD_", raising=False)
    cases = [
        (None, {}, str(isolate.HEAP_TOP_PAD)),
        (None, {"heap_top_pad": None}, None),  # glibc's own defaults
        ("131072", {}, "131072"),
        ("131072", {"heap_top_pad": None}, "131072"),
    ]
    for env, kwargs, expected in cases:
        if env is not None:
            monkeypatch.setenv("MALLOC_TOP_PAD_", env)
        child = IsolatedDecoder(**kwargs)
        try:
            # A decode first: the child has answered, so it runs its own program (right
            # after the fork, /proc can show the parent's environment or none).
            assert len(one_clip(data, sample=child.sample_clips, **KW)[1]) == 4
            assert _child_environ(child).get("MALLOC_TOP_PAD_") == expected
        finally:
            child.close()
    assert isolate.HEAP_TOP_PAD >= 16 << 20


@pytest.mark.parametrize(("poison", "reason"), [(b"CRASH", "decode_crash"), (b"HANG", "timeout")])
def test_poison_becomes_a_reason_and_the_decoder_recovers(decoder, poison, reason):
    with pytest.raises(decode.DecodeFailure) as e:
        one_clip(poison + b"\0" * 100, sample=decoder.sample_clips, **KW)
    assert e.value.reason == reason
    assert "2 attempt" in e.value.message
    good = synth.encode_mp4(synth.VideoSpec(num_frames=20))
    assert len(one_clip(good, sample=decoder.sample_clips, **KW)[1]) == 4


def test_ordinary_failures_are_not_retried(decoder):
    with pytest.raises(decode.DecodeFailure) as e:
        one_clip(b"not a video", sample=decoder.sample_clips, **KW)
    assert e.value.reason == "decode_error"


def test_huge_claimed_frame_size_is_too_large():
    data = synth.encode_mp4(synth.VideoSpec(num_frames=5, width=64, height=48))
    # A real frame just past the 8K cap: refused before any frame is decoded.
    big = synth.encode_mp4(synth.VideoSpec(num_frames=1, width=8192, height=4624, gop=1))
    with pytest.raises(decode.DecodeFailure) as e:
        one_clip(big, **KW)
    assert e.value.reason == "too_large"
    assert one_clip(data, **KW)[1]


def test_poison_in_a_unit_spares_the_rest(ray_head, tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    good = synth.encode_mp4(synth.VideoSpec(num_frames=20))
    with tarfile.open(root / "00000000.tar", "w") as tar:
        for key, video in [("a", good), ("b", b"CRASH"), ("c", good), ("d", b"HANG"), ("e", good)]:
            meta = json.dumps({"text": f"caption {key}"}).encode()
            for name, blob in ((f"{key}.mp4", video), (f"{key}.json", meta)):
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    summary = convert(
        ConvertOptions.of(
            source="webvid",
            input=str(root),
            output=str(tmp_path / "out"),
            size=32,
            sample_timeout_s=3.0,
            decode_attempts=2,
            decoder_module="tests.helpers.poison_child",
            progress=False,
        )
    )
    assert summary.units == 1 and summary.samples == 5
    assert summary.errors == {"decode_crash": 1, "timeout": 1}
    rows = vout.read_output(str(tmp_path / "out")).to_pylist()
    assert sorted(r["conversations"][1]["value"] for r in rows) == [
        "caption a",
        "caption c",
        "caption e",
    ]
