"""GPU failures stay contained in the isolated decoder (real child processes, a
make-believe GPU): a sticky CUDA error replaces the child, so later videos decode on
the GPU again; an NVDEC hang ends as that video's CPU frames, not a timeout."""

from __future__ import annotations

import hashlib

import pytest

from vidray import synth
from vidray.media import decode
from vidray.media.isolate import IsolatedDecoder
from vidray.media.sampling import SamplingPolicy

KW = {
    "clips": [decode.Clip()],
    "policy": SamplingPolicy(num_frames=4),
    "size": 32,
    "quality": 90,
    "decoder": "nvdec",
    "gpu": True,
}


def video(seed: int) -> bytes:
    return synth.encode_mp4(synth.VideoSpec(num_frames=20, seed=seed))


def cpu_frames(data: bytes) -> list:
    return decode.sample_clips(data, **{**KW, "decoder": "cpu", "gpu": False}).clips


def test_a_sticky_cuda_error_restarts_the_child(tmp_path, monkeypatch):
    bad, later = video(1), [video(2), video(3)]
    listed = tmp_path / "sticky.txt"
    listed.write_text(hashlib.sha256(bad).hexdigest())
    monkeypatch.setenv("VIDRAY_TEST_STICKY", str(listed))
    d = IsolatedDecoder(timeout_s=30.0, attempts=1, module="tests.helpers.cuda_sticky_child")
    try:
        first_child = d._start().pid
        hit = d.sample_clips(bad, **KW)
        assert (hit.decoder, hit.route) == ("cpu", "nvdec_failed:RuntimeError")
        assert hit.clips == cpu_frames(bad)  # the CPU redid it: nothing lost
        routes = [(r.decoder, r.route) for r in (d.sample_clips(v, **KW) for v in later)]
        # a fresh child with a working context: the GPU again, not the CPU for good
        assert routes == [("nvdec", "asked"), ("nvdec", "asked")]
        assert d._child is not None and d._child.pid != first_child
    finally:
        d.close()


def test_an_nvdec_hang_falls_back_to_the_cpu_for_that_video():
    data = video(4)
    d = IsolatedDecoder(timeout_s=2.0, attempts=1, module="tests.helpers.nvdec_hang_child")
    try:
        result = d.sample_clips(data, **KW)
        assert (result.decoder, result.route) == ("cpu", "nvdec_failed:timeout")
        assert result.clips == cpu_frames(data) and len(result.clips[0].jpegs) == 4
    finally:
        d.close()


def test_a_hang_on_the_cpu_is_still_a_timeout():
    d = IsolatedDecoder(timeout_s=1.0, attempts=1, module="tests.helpers.poison_child")
    try:
        with pytest.raises(decode.DecodeFailure) as e:
            d.sample_clips(b"HANG" + b"\0" * 100, **KW)
        assert e.value.reason == "timeout"
    finally:
        d.close()
