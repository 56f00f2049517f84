"""A decoded frame to the picture a row holds: its output size and rotation, one
swscale pass to RGB in the decoding thread, JPEG by libjpeg(-turbo). The CPU decoder
converts every frame it delivers here; the GPU decoder's CPU fallback does too."""

from __future__ import annotations

import io
import threading
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from vidray.media import sampling
from vidray.media.decoder import VideoInfo

#: swscale threads per conversion. PyAV asks for one per CPU by default; decode
#: workers already run one per core, and on 2 cores two threads took 1.2-1.8x the CPU
#: of one for the same bytes (full-size RGB also took longer: 205 against 151 us).
SWS_THREADS = 1
_THREAD = threading.local()


def shared_reformatter() -> VideoReformatter:
    """This thread's swscale context, shared by every video it converts: swscale
    keeps a context while size and formats stay the same and makes a new one when
    they change, and setting one up costs about a millisecond (a frame's own
    ``reformat`` makes one per call: about a fifth of a 336p conversion)."""
    if (r := getattr(_THREAD, "reformatter", None)) is None:
        r = _THREAD.reformatter = VideoReformatter()
    return r


def rgb24(
    frame: av.VideoFrame,
    size: tuple[int, int] | None = None,
    *,
    reformatter: VideoReformatter | None = None,
) -> np.ndarray:
    """A frame as an RGB array, scaled to ``size`` (width, height; area averaging) or
    as stored: every conversion of the CPU decoder goes through here, in this thread
    (``SWS_THREADS``), through ``reformatter``'s context (this thread's shared one by
    default)."""
    width, height = size or (None, None)
    rgb = (reformatter or shared_reformatter()).reformat(
        frame,
        width=width,
        height=height,
        format="rgb24",
        interpolation="AREA" if size else None,  # None: PyAV's default, as stored
        threads=SWS_THREADS,
    )
    return rgb.to_ndarray()


def geometry(
    info: VideoInfo, rotation: int, size: sampling.FrameSize
) -> tuple[tuple[int, int], int]:
    """(scaled size before rotation, rotation in quarter turns counter-clockwise): the
    display size is the stored size with its pixel aspect applied, turned by the
    rotation; it is then scaled by ``size`` (``sampling.scaled_size``)."""
    quarter = round(rotation / 90) % 4
    width: int | Fraction = info.width
    if info.sar is not None:  # the exact display width: rounded once, at the end
        width = info.width * info.sar
    turned = quarter % 2 == 1
    display = (info.height, width) if turned else (width, info.height)
    if size is None:
        out = (max(1, round(display[0])), max(1, round(display[1])))
    else:
        out = sampling.scaled_size(*display, size)  # type: ignore[arg-type]
    return ((out[1], out[0]) if turned else out), quarter


def turned(size: tuple[int, int], quarter: int) -> tuple[int, int]:
    """``size`` after ``quarter`` quarter turns."""
    return (size[1], size[0]) if quarter % 2 else size


def encode_jpeg(
    frame: av.VideoFrame,
    size: tuple[int, int],
    quality: int,
    *,
    rotation: int = 0,
    reformatter: VideoReformatter | None = None,
) -> bytes:
    """Scale and convert in one swscale pass (through ``reformatter``'s context;
    this thread's shared one by default), turn by ``rotation`` quarter turns
    counter-clockwise, then JPEG-encode with libjpeg(-turbo)."""
    pixels = rgb24(frame, size, reformatter=reformatter)
    if rotation:
        pixels = np.ascontiguousarray(np.rot90(pixels, k=rotation))
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=quality)
    return out.getvalue()
