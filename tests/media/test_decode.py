"""Decoding real H.264: the frame delivered for a time is the frame shown then."""

import pytest

from tests.media import distinct_shown, one_clip
from vidray import synth
from vidray.media import decode, sampling
from vidray.media.sampling import SamplingPolicy


def delivered(data: bytes, policy: SamplingPolicy, clip=(None, None), size=None):
    info, times, jpegs, out_size = one_clip(data, policy=policy, clip=clip, size=size, quality=95)
    return info, times, [synth.read_index_jpeg(j) for j in jpegs], out_size


@pytest.mark.parametrize("gop", [1, 12, 250])
@pytest.mark.parametrize("num_frames", [1, 8, 30])
def test_uniform_frames_are_exact(gop, num_frames):
    spec = synth.VideoSpec(num_frames=200, fps=10, gop=gop)  # 20 s: seeking kicks in
    info, times, shown, _ = delivered(synth.encode_mp4(spec), SamplingPolicy(num_frames=num_frames))
    assert info.duration == pytest.approx(20.0) and info.fps == pytest.approx(10.0)
    # each JPEG shows the frame whose timestamp was reported ...
    assert shown == [round(t * spec.fps) for t in times]
    # ... and that frame is the one on screen at each uniform target
    frame_times = [i / spec.fps for i in range(spec.num_frames)]
    targets = sampling.uniform_targets(0.0, 20.0, num_frames)
    assert shown == distinct_shown(frame_times, targets)


def test_fps_policy_and_clip_span():
    spec = synth.VideoSpec(num_frames=100, fps=10, gop=25)
    data = synth.encode_mp4(spec)
    _, times, shown, _ = delivered(data, SamplingPolicy(mode="fps", fps=2.0), clip=(3.0, 6.0))
    assert shown == [32, 37, 42, 47, 52, 57]
    assert all(3.0 <= t < 6.0 for t in times)


def test_short_video_yields_every_frame_once():
    data = synth.encode_mp4(synth.VideoSpec(num_frames=3, fps=10))
    _, times, shown, _ = delivered(data, SamplingPolicy(num_frames=8))
    assert shown == [0, 1, 2]
    assert times == pytest.approx([0.0, 0.1, 0.2])


def test_resize_keeps_aspect_and_index():
    data = synth.encode_mp4(synth.VideoSpec(num_frames=20, width=160, height=96))
    _, times, shown, size = delivered(data, SamplingPolicy(num_frames=4), size=48)
    assert size == (80, 48)
    assert shown == [round(t * 10) for t in times]


def test_span_outside_video_is_bad_span():
    data = synth.encode_mp4(synth.VideoSpec(num_frames=20, fps=10))
    with pytest.raises(decode.DecodeFailure) as e:
        delivered(data, SamplingPolicy(), clip=(1.0, 5.0))
    assert e.value.reason == "bad_span"


@pytest.mark.parametrize("blob", [b"", b"\x00" * 1000, b"not a video at all" * 50])
def test_garbage_is_decode_error(blob):
    with pytest.raises(decode.DecodeFailure) as e:
        delivered(blob, SamplingPolicy())
    assert e.value.reason == "decode_error"


def test_truncated_file_is_decode_error():
    data = synth.encode_mp4(synth.VideoSpec(num_frames=40))
    with pytest.raises(decode.DecodeFailure) as e:
        delivered(data[: len(data) // 3], SamplingPolicy())
    assert e.value.reason == "decode_error"


def test_one_shared_scaling_context_gives_the_bytes_of_a_new_one_per_frame():
    """One swscale context per thread is reused across videos of different pixel
    formats and sizes (and across output sizes): each JPEG and RGB array equals a
    conversion through a context of its own."""
    import threading

    import av
    from av.video.reformatter import VideoReformatter

    from vidray.media.cpu import CpuVideo
    from vidray.media.pictures import encode_jpeg, rgb24, shared_reformatter

    # One context per thread: the same object on every call here, another elsewhere.
    assert shared_reformatter() is shared_reformatter()
    other: list[VideoReformatter] = []
    thread = threading.Thread(target=lambda: other.append(shared_reformatter()))
    thread.start()
    thread.join()
    assert isinstance(other[0], VideoReformatter) and other[0] is not shared_reformatter()
    delivered_frames = 0
    for pix_fmt, (width, height) in [
        ("yuv420p", (160, 96)),
        ("yuv444p", (128, 80)),
        ("yuv420p10le", (160, 96)),
        ("yuv420p", (96, 64)),
    ]:
        spec = synth.VideoSpec(num_frames=6, width=width, height=height)
        with CpuVideo(synth.encode_video(spec, pix_fmt=pix_fmt)) as video:
            frames = [frame for _, _, frame in video.frames_shown([0.0, 0.2, 0.4])]
            for frame in frames:
                assert isinstance(frame, av.VideoFrame)
                for size in ((80, 48), (width, height), (40, 24)):
                    fresh = encode_jpeg(frame, size, 90, reformatter=VideoReformatter())
                    assert video.encode(frame, size, 90, rotation=0) == fresh
                rgb = rgb24(frame)
                assert rgb.shape == (height, width, 3)
                assert (rgb == frame.to_ndarray(format="rgb24")).all()
            delivered_frames += len(frames)
    assert delivered_frames == 12


THREADS_PROBE = """
import os
from av.video.reformatter import VideoReformatter
from vidray import synth
from vidray.media.cpu import CpuVideo
from vidray.media.pictures import encode_jpeg, rgb24

def threads():
    return len(os.listdir("/proc/self/task"))

spec = synth.VideoSpec(num_frames=4, width=640, height=360)
with CpuVideo(synth.encode_video(spec)) as video:
    [(_, _, frame)] = video.frames_shown([0.1])
    area = dict(format="rgb24", width=336, height=189, interpolation="AREA")
    before = threads()
    ours = VideoReformatter()
    jpeg = encode_jpeg(frame, (336, 189), 90, reformatter=ours)
    rgb = rgb24(frame)
    after_ours = threads()
    pyav_default = VideoReformatter()  # its threads live as long as the context
    default = pyav_default.reformat(frame, **area).to_ndarray()
    after_default = threads()
    same = (
        (rgb == frame.to_ndarray(format="rgb24")).all()
        and (ours.reformat(frame, threads=1, **area).to_ndarray() == default).all()
        and jpeg == encode_jpeg(frame, (336, 189), 90)
    )
print(before, after_ours, after_default, bool(same))
"""


def test_conversions_start_no_scaling_threads():
    """swscale runs in the decoding thread (``SWS_THREADS``): a context set up with
    PyAV's default (a thread per CPU) starts threads, vidray's conversions start none,
    and the bytes are the same. In a fresh process, where no other thread comes or
    goes."""
    import os
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", THREADS_PROBE], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    before, after_ours, after_default, same = run.stdout.split()
    assert after_ours == before
    if len(os.sched_getaffinity(0)) > 1:  # FFmpeg counts the CPUs this process may use
        assert int(after_default) > int(before)  # what the setting avoids
    assert same == "True"
