"""Still images: decode, scale and re-encode as video frames are. One path serves
image datasets (``encode_images``) and videos stored as folders of frame images
(``sample_frames``, ShareGPTVideo's JPEG folders).

Runs in the isolated decoder process (``isolate``'s ``stills`` and ``images``
requests), since a
crafted image can hurt a decoder as much as a crafted video. Each image is checked
against the same pixel cap as a video frame from its header alone, before any pixel is
decoded; a missing end (a truncated download) is an error, never a half-grey image.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from vidray.media import sampling
from vidray.media.decode import MAX_PIXELS
from vidray.media.decoder import DecodeFailure, VideoInfo, pillow_error
from vidray.schema import Reason

#: An image file above this many bytes is refused unread (``too_large``): the largest
#: photos of the image sets are a few MiB; an 8K frame as PNG is under 100 MiB.
MAX_IMAGE_BYTES = 128 * 2**20


@dataclass(frozen=True)
class Stills:
    """The re-encoded images of one sample, in order, with the size of each."""

    jpegs: list[bytes]
    sizes: list[tuple[int, int]]


def encode_images(
    images: Sequence[bytes],
    *,
    names: Sequence[str],
    size: sampling.FrameSize,
    quality: int,
    one_size: bool = False,
) -> Stills:
    """Decode each image, scale it so its short side is ``size`` (aspect kept; a
    ``PixelBudget``: sized by it; None: its own size), and JPEG-encode it at
    ``quality``. ``names`` name the images in errors.

    Every image keeps its own aspect: several images of one sample (M3IT's multi-image
    tasks) may differ in shape. Orientation tags are not applied, as the trainers'
    loaders (``Image.open(...).convert("RGB")``) do not apply them either.
    ``one_size``: every image takes the first one's output size (the frames of one
    video).
    """
    if not images:
        raise DecodeFailure(Reason.DECODE_ERROR, "the sample holds no image")
    jpegs: list[bytes] = []
    sizes: list[tuple[int, int]] = []
    for data, name in zip(images, names, strict=True):
        rgb = _decode(data, name)
        if one_size and sizes:
            out_size = sizes[0]
        else:
            out_size = sampling.scaled_size(rgb.width, rgb.height, size)
        if out_size != rgb.size:
            # Area averaging when shrinking (swscale's AREA for video frames does the
            # same); bilinear when enlarging, where a box filter would show blocks.
            shrink = out_size[0] < rgb.width
            method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
            rgb = rgb.resize(out_size, method)
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", quality=quality)
        jpegs.append(buf.getvalue())
        sizes.append(out_size)
    return Stills(jpegs, sizes)


def sample_frames(
    images: list[bytes],
    *,
    times: list[float],
    info: VideoInfo,
    size: sampling.FrameSize,
    quality: int,
) -> tuple[VideoInfo, list[float], list[bytes], tuple[int, int]]:
    """Frames that are already images (a video stored as a folder of them): each
    decoded, scaled to the first one's output size and re-encoded by
    ``encode_images``. ``times`` and ``info`` come from the folder listing; the
    frame size in the returned info is the first image's."""
    if not images:
        raise DecodeFailure(Reason.DECODE_ERROR, "the frame folder holds no images")
    names = [f"frame {k}" for k in range(len(images))]
    stills = encode_images(images, names=names, size=size, quality=quality, one_size=True)
    with Image.open(io.BytesIO(images[0])) as first:  # decoded above: the header only
        width, height = first.size
    return VideoInfo(info.duration, info.fps, width, height), times, stills.jpegs, stills.sizes[0]


def _decode(data: bytes, name: str) -> Image.Image:
    if len(data) > MAX_IMAGE_BYTES:
        raise DecodeFailure(
            Reason.TOO_LARGE, f"image {name} is {len(data)} bytes, above {MAX_IMAGE_BYTES}"
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own (higher) bomb limit; vidray's cap comes first.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size  # from the header: nothing decoded yet
                if width * height > MAX_PIXELS:
                    raise DecodeFailure(
                        Reason.TOO_LARGE,
                        f"image {name} is {width}x{height}, above {MAX_PIXELS} pixels",
                    )
                image.load()
                return image.convert("RGB")
    except Image.DecompressionBombError as e:
        raise DecodeFailure(Reason.TOO_LARGE, f"image {name}: {e}") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        # Pillow's words: "cannot identify image file", "image file is truncated", ...
        raise DecodeFailure(
            Reason.DECODE_ERROR, f"image {name} is unreadable: {pillow_error(e)}"
        ) from e
