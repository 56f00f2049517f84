"""The decoder seam: what any video decoder gives vidray.

A decoder opens a video (bytes, or a seekable file read by ranges), probes it without
decoding, and fetches the frames shown at sorted target times, already scaled and
JPEG-encoded, with the time of each frame and the facts of the stream. Everything
about clips, spans and rows lives above it (``vidray.media.decode``), so a second
decoder (NVDEC on a GPU) plugs in here without touching the pipeline; the seam imports
none of them (``vidray.media.registry`` builds one by name). Decoders run in the
isolated decoder process (``vidray.media.isolate``): a crash or hang still costs one
video.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import IO, TYPE_CHECKING, Protocol

from vidray.media.failure import DecodeFailure, pillow_error

if TYPE_CHECKING:
    from vidray.media.sampling import FrameSize

__all__ = ["DecodeFailure", "Decoder", "Fetched", "OpenedVideo", "VideoInfo", "pillow_error"]


@dataclass(frozen=True)
class VideoInfo:
    """Facts of a stream, read from the container (nothing decoded)."""

    #: Seconds from the first frame to the end: the length, whatever the start offset.
    duration: float | None
    fps: float | None
    #: The stored frame size (before rotation and pixel aspect are applied).
    width: int
    height: int
    #: Pixel aspect ratio (width of a pixel over its height); None when square.
    sar: Fraction | None = None


@dataclass
class Fetched:
    """What ``OpenedVideo.fetch`` gives: for each target, in order, the time of the
    frame shown there; each distinct frame's JPEG by its time; the delivered size."""

    times: list[float]
    jpegs: dict[float, bytes]
    size: tuple[int, int]
    #: Counter-clockwise rotation applied from the stream's display matrix (degrees).
    rotation: int = 0
    #: Frames the decoder produced to deliver them (the work done, for benchmarks).
    decoded: int = 0
    stats: dict[str, int] = field(default_factory=dict)


class OpenedVideo(Protocol):
    """One opened video stream; a context manager."""

    def probe(self) -> VideoInfo: ...

    def fetch(self, targets: Sequence[float], *, size: FrameSize, quality: int) -> Fetched:
        """The frames shown at ``targets`` (sorted seconds from the first frame): the
        frame on screen at each one, scaled so its short side is ``size`` (a
        ``PixelBudget``: sized by it; None: the display size), rotated and
        aspect-corrected for display, JPEG at ``quality``."""
        ...

    def __enter__(self) -> OpenedVideo: ...

    def __exit__(self, *exc: object) -> None: ...


class Decoder(Protocol):
    name: str

    def open(self, source: bytes | IO[bytes]) -> OpenedVideo: ...


def check_fetch_args(targets: Sequence[float], size: FrameSize, quality: int) -> None:
    """The arguments every decoder's ``fetch`` refuses alike."""
    if any(not math.isfinite(t) for t in targets):
        raise ValueError("targets must be finite")
    if any(b < a for a, b in itertools.pairwise(targets)):
        raise ValueError("targets must be sorted")
    if isinstance(size, int) and size < 1:
        raise ValueError(f"size must be >= 1, a PixelBudget or None, got {size}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
