"""The decoder seam: what any video decoder gives vidray, and which ones there are.

A decoder opens a video (bytes, or a seekable file read by ranges), probes it without
decoding, and fetches the frames shown at sorted target times, already scaled and
JPEG-encoded, with the time of each frame and the facts of the stream. Everything
about clips, spans and rows lives above it (``vidray.media.decode``), so a second
decoder (NVDEC on a GPU) plugs in here without touching the pipeline. Decoders run in
the isolated decoder process (``vidray.media.isolate``): a crash or hang still costs
one video.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from vidray.media.sampling import FrameSize


class DecodeFailure(Exception):
    """A sample-level failure: becomes an error row with ``reason``, never a crash."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.reason, self.message))


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


#: The decoders by name: a factory taking keyword-only options. ``register`` adds
#: one (the tests' failing GPU decoder does).
_FACTORIES: dict[str, Callable[..., Decoder]] = {}


def register(name: str, factory: Callable[..., Decoder]) -> None:
    _FACTORIES[name] = factory


def names() -> tuple[str, ...]:
    return ("cpu", "nvdec", *sorted(set(_FACTORIES) - {"cpu", "nvdec"}))


def get(name: str = "cpu", *, threads: int = 1) -> Decoder:
    """The decoder called ``name``, constructed with keyword-only options."""
    if name not in names():
        raise ValueError(f"decoder must be one of {', '.join(names())}, got {name!r}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if name in _FACTORIES:
        return _FACTORIES[name](threads=threads)
    if name == "nvdec":
        from vidray.media.nvdec import NvdecDecoder  # needs torch and torchvision

        return NvdecDecoder()
    from vidray.media.cpu import CpuDecoder

    return CpuDecoder(threads=threads)


_OBJECT_REPR = re.compile(r" ?<[\w.]+ object at 0x[0-9a-f]+>")


def pillow_error(e: BaseException) -> str:
    """Pillow's message without the object it names (``<_io.BytesIO object at 0x...>``
    differs run to run, and error rows must not)."""
    return _OBJECT_REPR.sub("", str(e)).rstrip()
