"""The NVDEC decoder's pixel path on the CPU: the same functions the GPU runs
(``nvdec.frame_rgb``, ``nvdec.encode_frame``), fed CPU DLPack planes of real
PyAV-decoded frames (NV12 and P010, tagged BT.601, BT.709, BT.2020 and untagged,
limited and full range), held to the GPU test's tolerance against the CPU decoder's
frames (``tests/media/test_gpu.py``: a mean absolute difference of at most 2 of 255). Only
the hardware decode and nvJPEG need a GPU."""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from vidray import synth
from vidray.media import decode, nvdec, pictures, routing
from vidray.media.routing import StreamFacts
from vidray.media.sampling import SamplingPolicy

#: The GPU test's bound on the mean absolute pixel difference from the CPU decoder.
TOLERANCE = 2.0
NUMPY = nvdec.Backend()


def encode(
    width: int,
    height: int,
    *,
    colorspace: int | None = None,
    color_range: int | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    container: str = "mp4",
    frames: int = 2,
) -> bytes:
    """synth's picture, encoded with the stream (and its frames) tagged as asked."""
    spec = synth.VideoSpec(num_frames=frames, width=width, height=height)
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx265":
            # One thread: with its default pools, x265 sometimes hands the muxer a first
            # packet that mp4 refuses ("Not yet implemented"), failing the test at random.
            stream.options = {"x265-params": "log-level=error:pools=1:frame-threads=1"}
        if colorspace is not None:
            stream.codec_context.colorspace = colorspace
        if color_range is not None:
            stream.codec_context.color_range = color_range
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(synth.frame_image(i, spec), format="rgb24")
            frame = frame.reformat(
                format=pix_fmt, dst_colorspace=colorspace, dst_color_range=color_range
            )
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def first_frame(data: bytes) -> av.VideoFrame:
    with av.open(io.BytesIO(data)) as container:
        return next(container.decode(video=0))


def pixels(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=float)


# (stream tags, encoder pix_fmt, what NVDEC hands over)
CASES = {
    "601-untagged": ({}, "libx264", "yuv420p", "nv12", (320, 180)),
    "601-untagged-hd": ({}, "libx264", "yuv420p", "nv12", (1280, 720)),
    "601-tagged": ({"colorspace": 6}, "libx264", "yuv420p", "nv12", (320, 180)),
    "709-sd": ({"colorspace": 1}, "libx264", "yuv420p", "nv12", (320, 180)),
    "709-full": ({"colorspace": 1, "color_range": 2}, "libx264", "yuvj420p", "nv12", (320, 180)),
    "601-full": ({"color_range": 2}, "libx264", "yuvj420p", "nv12", (320, 180)),
    "p010-untagged": ({}, "libx265", "yuv420p10le", "p010le", (320, 180)),
    "p010-2020": ({"colorspace": 9}, "libx265", "yuv420p10le", "p010le", (320, 180)),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[av.VideoFrame, av.VideoFrame]:
    """(the decoded frame, the same frame in NVDEC's layout as a CPU frame)."""
    tags, codec, pix_fmt, nv_fmt, (width, height) = CASES[request.param]
    frame = first_frame(encode(width, height, codec=codec, pix_fmt=pix_fmt, **tags))
    for key, value in tags.items():  # the tags survived the encode
        assert int(getattr(frame, key)) == value
    nv = frame.reformat(format=nv_fmt)
    assert nv.format.name == nv_fmt
    assert (int(nv.colorspace), int(nv.color_range)) == (
        int(frame.colorspace),
        int(frame.color_range),
    )
    return frame, nv


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_colour_and_resize_match_the_cpu_decoder(case, scale):
    frame, nv = case
    size = (frame.width // scale // 2 * 2, frame.height // scale // 2 * 2)
    want = pictures.rgb24(frame, size).astype(float)
    got = nvdec.frame_rgb(nv, size, NUMPY)
    assert got.shape == (3, size[1], size[0]) and got.dtype == np.uint8
    assert abs(got.transpose(1, 2, 0).astype(float) - want).mean() <= TOLERANCE


@pytest.mark.parametrize("rotation", [0, 1, 2, 3])
def test_the_jpeg_path_with_rotation_matches_the_cpu_decoder(case, rotation):
    frame, nv = case
    size = (frame.width // 2, frame.height // 2)
    want = pixels(pictures.encode_jpeg(frame, size, 95, rotation=rotation))
    got = pixels(nvdec.encode_frame(nv, size, 95, rotation=rotation, backend=NUMPY))
    assert got.shape == want.shape
    assert abs(got - want).mean() <= TOLERANCE


def test_the_matrix_is_the_frames_tag_not_its_height():
    """A 709-tagged SD frame and an untagged HD frame: chosen by height, both got the
    other matrix (a mean difference of 4.8-6 of 255 from the CPU decoder)."""
    for width, height, tags in [(320, 180, {"colorspace": 1}), (1280, 720, {})]:
        frame = first_frame(encode(width, height, **tags))
        got = nvdec.frame_rgb(frame.reformat(format="nv12"), (width, height), NUMPY)
        err = abs(got.transpose(1, 2, 0).astype(float) - pictures.rgb24(frame).astype(float))
        assert err.mean() <= 1.5, (width, height, err.mean())
    assert nvdec.MATRICES[1] == (0.2126, 0.0722)
    assert nvdec.MATRICES.get(2, nvdec.BT601) == (0.299, 0.114)  # untagged: BT.601


def _grey_nv12(luma: int, *, full: bool) -> av.VideoFrame:
    frame = av.VideoFrame(16, 8, "nv12")
    frame.planes[0].update(np.full((8, frame.planes[0].line_size), luma, np.uint8).tobytes())
    frame.planes[1].update(np.full((4, frame.planes[1].line_size), 128, np.uint8).tobytes())
    frame.color_range = 2 if full else 1
    return frame


@pytest.mark.parametrize("full", [True, False])
def test_neutral_chroma_is_grey_in_either_range(full):
    """Chroma 128 is no colour: full range subtracts 128/255 (0.5 gave R and B a
    step below G and a tint)."""
    for luma in (16, 100, 200, 235):
        rgb = nvdec.frame_rgb(_grey_nv12(luma, full=full), (16, 8), NUMPY)
        want = luma if full else round((luma - 16) * 255 / 219)
        assert (rgb == want).all(), (luma, np.unique(rgb))


def test_hwaccel_keeps_frames_on_the_gpu_in_the_primary_context():
    hw = nvdec.hwaccel(0)
    assert hw.is_hw_owned is True  # else PyAV copies every frame to host memory (nv12)
    assert hw.options == {"primary_ctx": "1"}  # not a CUDA context per video
    assert hw.allow_software_fallback is False
    assert nvdec.hwaccel(1).device_id == 1


class StrictPlane:
    """A real CPU plane whose ``__dlpack__`` refuses a stream, as PyAV's does for a
    CUDA plane (``VideoPlane.__dlpack__``: ``NotImplementedError`` unless
    ``stream is None``), where ``torch.from_dlpack(plane)`` passes one."""

    def __init__(self, plane: Any) -> None:
        self.plane = plane

    def __dlpack__(self, *, stream: int | None = None) -> Any:
        if stream is not None:
            raise NotImplementedError("CUDA stream synchronization is not supported.")
        return self.plane.__dlpack__()

    def __dlpack_device__(self) -> tuple[int, int]:
        return self.plane.__dlpack_device__()


class StrictFrame:
    def __init__(self, frame: av.VideoFrame) -> None:
        self.width, self.height = frame.width, frame.height
        self.colorspace, self.color_range = frame.colorspace, frame.color_range
        self.planes = [StrictPlane(p) for p in frame.planes]


def test_planes_are_taken_as_capsules_asked_for_without_a_stream():
    frame = first_frame(encode(64, 48)).reformat(format="nv12")
    strict = StrictFrame(frame)
    with pytest.raises(NotImplementedError):  # what a consumer passing a stream meets
        strict.planes[0].__dlpack__(stream=1)
    for k in (0, 1):
        got = NUMPY.from_capsule(nvdec.export_plane(strict.planes[k]))
        assert (got == np.from_dlpack(frame.planes[k])).all()
    assert (
        nvdec.frame_rgb(strict, (64, 48), NUMPY) == nvdec.frame_rgb(frame, (64, 48), NUMPY)
    ).all()


def test_odd_sizes_go_to_the_cpu_before_nvdec_opens():
    assert routing.nvdec_refusal(StreamFacts("vp9", "yuv420p", 641, 361)) == (
        "nvdec_odd_size:641x361"
    )
    assert routing.nvdec_refusal(StreamFacts("vp9", "yuv420p", 640, 360)) is None
    data = encode(65, 37, codec="libvpx-vp9", container="webm", frames=3)
    result = decode.sample_clips(
        data,
        clips=[decode.Clip()],
        policy=SamplingPolicy(num_frames=2),
        size=None,
        quality=90,
        decoder="nvdec",
        gpu=True,
    )
    # routed away before any NVDEC session (opening one here would have failed
    # without torch: nvdec_failed:...)
    assert (result.decoder, result.route) == ("cpu", "nvdec_odd_size:65x37")
    assert result.size == (65, 37)
    # and the pixel path refuses them rather than misreading the floor-sized chroma
    odd = first_frame(data).reformat(format="nv12")
    assert np.from_dlpack(odd.planes[1]).shape == (18, 32, 2)  # a row and a column short
    with pytest.raises(ValueError, match="odd frame size 65x37"):
        nvdec.frame_rgb(odd, (65, 37), NUMPY)
