"""The encodings that real files bring: a start offset, a display matrix, NTSC rates,
non-square pixels, B-frames. Each delivered frame is held to a brute-force decode of
every frame of the file with a plain PyAV loop, the reference."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from tests.media import distinct_shown, one_clip
from vidray import synth
from vidray.media import decode, factory, sampling
from vidray.media.sampling import SamplingPolicy

SPEC = synth.VideoSpec(num_frames=40, fps=10, width=160, height=96)


def encode(
    *,
    container: str = "mp4",
    codec: str = "libx264",
    fps: Fraction = Fraction(10),
    frames: int = 40,
    offset: int = 0,
    rotate: int | None = None,
    sar: Fraction | None = None,
    gop: int = 12,
    bframes: int | None = None,
) -> bytes:
    """Frames ``offset .. offset + frames`` (their index drawn in) at ``fps``."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = SPEC.width, SPEC.height, "yuv420p"
        stream.time_base = 1 / fps
        options = {"g": str(gop)}
        if codec == "libx264":
            options["preset"] = "ultrafast" if bframes is None else "medium"
            if bframes is not None:
                options["bf"] = str(bframes)
        stream.options = options
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
        if rotate is not None:
            stream.set_display_rotation(rotate)
        for i in range(frames):
            img = synth.frame_image(i, SPEC)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i + offset, 1 / fps
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def reference(data: bytes) -> tuple[list[float], list[int], int]:
    """Every frame of the file, decoded one after the other: (times from the first
    frame, the index drawn in each, the display rotation)."""
    with av.open(io.BytesIO(data)) as c:
        stream = c.streams.video[0]
        start = stream.start_time or 0
        times, indices, rotation = [], [], 0
        for frame in c.decode(stream):
            times.append(float((frame.pts - start) * stream.time_base))
            indices.append(synth.read_index(frame.to_ndarray(format="rgb24")))
            rotation = frame.rotation
    return times, indices, rotation


def unturned(jpeg: bytes, rotation: int) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as im:
        pixels = np.asarray(im.convert("RGB"))
    return np.rot90(pixels, k=-round(rotation / 90))


def check_against_reference(data: bytes, span, policy, size=None) -> decode.VideoFrames:
    """Sample ``span`` and hold every delivered frame to the reference."""
    times, indices, rotation = reference(data)
    result = decode.sample_clips(
        data, clips=[decode.Clip(*span)], policy=policy, size=size, quality=95
    )
    (clip,) = result.clips
    assert isinstance(clip, decode.ClipFrames), clip
    start, end = clip.span
    want = distinct_shown(times, sampling.targets_for(policy, start, end))
    assert clip.times == [times[i] for i in want]
    assert [synth.read_index(unturned(j, rotation)) for j in clip.jpegs] == [
        indices[i] for i in want
    ]
    # the span rule: each frame is on screen at an instant inside the span
    for i in want:
        following = times[i + 1] if i + 1 < len(times) else result.info.duration
        assert times[i] < end and following > start
    return result


@pytest.mark.parametrize(
    ("container", "codec"), [("matroska", "libx264"), ("webm", "libvpx"), ("mpegts", "libx264")]
)
def test_a_start_offset_is_not_part_of_the_length(container, codec):
    data = encode(container=container, codec=codec, offset=50)  # frames from 5 s to 9 s
    info = decode.sample_clips(data, clips=[], policy=SamplingPolicy(), size=None, quality=90).info
    assert info.duration == pytest.approx(4.0, abs=0.11)
    check_against_reference(data, (None, None), SamplingPolicy(num_frames=8))
    check_against_reference(data, (1.0, 3.0), SamplingPolicy(mode="fps", fps=4.0))
    # a span past the (real) end is refused, and the duration filter sees the length
    with pytest.raises(decode.DecodeFailure) as e:
        one_clip(data, policy=SamplingPolicy(), clip=(3.0, 6.0), size=32, quality=90)
    assert e.value.reason == "bad_span"
    with pytest.raises(decode.DecodeFailure) as e:
        one_clip(
            data, policy=SamplingPolicy(), clip=(None, None), size=32, quality=90,
            duration_range=(4.5, None),
        )  # fmt: skip
    assert e.value.reason == "filtered_duration"


@pytest.mark.parametrize("rotate", [90, 180, -90])
def test_rotation_is_applied_to_frames_and_size(rotate):
    data = encode(rotate=rotate)
    result = check_against_reference(data, (None, None), SamplingPolicy(num_frames=5), size=48)
    turned = rotate % 180 != 0
    assert result.size == ((48, 80) if turned else (80, 48))
    with Image.open(io.BytesIO(result.clips[0].jpegs[0])) as im:
        assert im.size == result.size


def test_targets_on_ntsc_frame_times_pick_those_frames():
    fps = Fraction(30000, 1001)
    data = encode(fps=fps, frames=120)
    with factory.get("cpu").open(data) as video:
        # frame k's time as annotations write it, k * 1.001 / 30: one ulp below the
        # exact k * 1001 / 30000 for most k
        targets = [k * 1.001 / 30 for k in range(120)]
        fetched = video.fetch(targets, size=32, quality=90)
    times, indices, _ = reference(data)
    assert fetched.times == times  # frame k for the target at frame k's time, every k
    assert [synth.read_index_jpeg(fetched.jpegs[t]) for t in times] == indices
    check_against_reference(data, (0.0, 4.0), SamplingPolicy(num_frames=6))


def test_first_frame_of_a_span_may_start_before_it_and_is_on_screen_inside_it():
    data = encode(fps=Fraction(2), frames=20)  # 2 fps: a frame lasts 0.5 s
    result = check_against_reference(data, (1.2, 3.2), SamplingPolicy(num_frames=4))
    assert result.clips[0].times[0] == 1.0  # on screen from 1.0 to 1.5, inside from 1.2


def test_non_square_pixels_are_shown_at_their_display_aspect():
    data = encode(sar=Fraction(4, 3))
    result = check_against_reference(data, (None, None), SamplingPolicy(num_frames=3))
    assert result.info.sar == Fraction(4, 3)
    assert result.size == (213, 96)  # 160 stored pixels, each 4/3 wide
    scaled = decode.sample_clips(
        data, clips=[decode.Clip()], policy=SamplingPolicy(num_frames=1), size=48, quality=90
    )
    assert scaled.size == (107, 48)


@pytest.mark.parametrize("bframes", [0, 3])
@pytest.mark.parametrize("policy", [SamplingPolicy(num_frames=8), SamplingPolicy(num_frames=3)])
def test_skipping_what_nothing_shows_changes_no_frame(bframes, policy):
    data = encode(frames=200, gop=50, bframes=bframes)
    for span in [(None, None), (3.3, 9.9), (12.0, 12.2)]:
        check_against_reference(data, span, policy)


def test_only_the_frames_needed_are_decoded():
    """20 s, a key frame every 5 s, 3 B-frames: 4 targets decode their key frames and
    the reference frames up to each target, not the 200 frames of the file."""
    data = encode(frames=200, gop=50, bframes=3)
    with factory.get("cpu").open(data) as video:
        fetched = video.fetch([1.05, 6.05, 11.05, 16.05], size=32, quality=90)
    assert fetched.decoded <= 4 * 12  # each target: at most its GOP's first 1.1 s
    _, indices, _ = reference(data)
    shown = [synth.read_index_jpeg(fetched.jpegs[t]) for t in fetched.times]
    assert shown == [indices[k] for k in (10, 60, 110, 160)] == [10, 60, 110, 160]


def test_bad_fetch_arguments_are_refused():
    data = encode(frames=10)
    with factory.get("cpu").open(data) as video:
        for targets, size, quality in [([2.0, 1.0], None, 90), ([1.0], 0, 90), ([1.0], 8, 0)]:
            with pytest.raises(ValueError):
                video.fetch(targets, size=size, quality=quality)
    with pytest.raises(ValueError, match="decoder must be one of"):
        factory.get("gpu")
