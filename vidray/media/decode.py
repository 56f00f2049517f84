"""Sampling clips of a video: spans checked against the stream, targets chosen, one
pass of a decoder (``vidray.media.decoder``) over the video for every clip asked of
it, and each clip's frames handed back.

Frames: the frame for a target is the one on screen at it, reported at its own
presentation time. A span's first frame can therefore have started up to one frame
before ``clip_start``: it is on screen inside the span. Frames are delivered as
displayed: the stream's rotation (display matrix) and pixel aspect ratio are applied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from vidray.io import storage
from vidray.media import cpu, factory, routing, sampling
from vidray.media.decoder import DecodeFailure, VideoInfo
from vidray.schema import Reason

__all__ = ["DecodeFailure", "VideoInfo"]

#: Caps against hostile or absurd headers, checked before any frame is decoded.
MAX_PIXELS = 8192 * 4608  # 8K
MAX_DURATION_S = 24 * 3600.0


def _check_caps(info: VideoInfo) -> None:
    if info.width * info.height > MAX_PIXELS:
        raise DecodeFailure(
            Reason.TOO_LARGE, f"frame size {info.width}x{info.height} exceeds {MAX_PIXELS} pixels"
        )
    if info.duration is not None and info.duration > MAX_DURATION_S:
        raise DecodeFailure(
            Reason.TOO_LARGE, f"duration {info.duration:.0f} s exceeds {MAX_DURATION_S:.0f} s"
        )


def check_duration(info: VideoInfo, duration_range: tuple[float | None, float | None]) -> None:
    low, high = duration_range
    if low is None and high is None:
        return
    if info.duration is None:
        raise DecodeFailure(Reason.DECODE_ERROR, "the container reports no duration to filter on")
    if (low is not None and info.duration < low) or (high is not None and info.duration > high):
        bounds = f"[{low if low is not None else 0:g}, {high if high is not None else 'inf'}]"
        raise DecodeFailure(
            Reason.FILTERED_DURATION, f"duration {info.duration:.3f} s is outside {bounds} s"
        )


def clip_span(
    info: VideoInfo, clip: tuple[float | None, float | None], unit: str = "s"
) -> tuple[float, float]:
    """The clip in seconds, checked against the video. ``unit="frame"`` reads the span
    as frame indices (EgoTaskQA intervals, MovieChat breakpoints) at the stream's rate."""
    start, end = clip
    if unit == "frame":
        if not info.fps:
            raise DecodeFailure(
                Reason.DECODE_ERROR, "a span in frames needs the stream's frame rate"
            )
        start = None if start is None else start / info.fps
        end = None if end is None else end / info.fps
    elif unit != "s":
        raise ValueError(f"span unit must be 's' or 'frame', got {unit!r}")
    start = start if start is not None else 0.0
    end = end if end is not None else info.duration
    if end is None:
        raise DecodeFailure(Reason.DECODE_ERROR, "the container reports no duration")
    if start < 0 or not end > start:
        raise DecodeFailure(Reason.BAD_SPAN, f"empty or negative span [{start:g}, {end:g}] s")
    if info.duration is not None and end > info.duration + 1e-3:
        raise DecodeFailure(
            Reason.BAD_SPAN,
            f"span [{start:g}, {end:g}] s ends after the video ({info.duration:.3f} s)",
        )
    return start, end


@dataclass(frozen=True)
class Clip:
    """One span of a video to sample: seconds, or frame indices (``unit="frame"``);
    None bounds stand for the video's start and end."""

    start: float | None = None
    end: float | None = None
    unit: str = "s"


@dataclass(frozen=True)
class ClipFrames:
    """The frames of one clip: its span in seconds, the times shown, the JPEGs."""

    span: tuple[float, float]
    times: list[float]
    jpegs: list[bytes]


@dataclass(frozen=True)
class ClipFailure:
    """A clip that cannot be sampled (a span outside the video) while the video's
    other clips can: becomes that clip's error rows."""

    reason: str
    message: str


@dataclass(frozen=True)
class VideoFrames:
    """What one pass over a video gives: its facts, the output frame size, and for
    each requested clip, in order, its frames or why it has none."""

    info: VideoInfo
    size: tuple[int, int]
    clips: list[ClipFrames | ClipFailure]
    #: Frames the decoder produced for this pass (delivered or not).
    decoded: int = 0
    #: The decoder that made the frames, and why it was chosen (``routing.choose``;
    #: ``nvdec_failed:...`` when the GPU failed and the CPU decoded the video).
    decoder: str = "cpu"
    route: str = "asked"


#: Set when a GPU decode failed with a sticky CUDA error: the process's CUDA context
#: is lost, and every later GPU decode in it would fail too. The isolated decoder's
#: child answers, then is replaced by a fresh one (``isolate``).
gpu_lost = False


def sticky_gpu_error(e: BaseException) -> bool:
    """Whether ``e`` is a CUDA error that poisons the process's context (an illegal
    address, a launch failure, ...): CUDA reports it to every later call. Out of
    memory is not sticky."""
    text = f"{type(e).__name__}: {e}"
    cuda = "CUDA error" in text or "CUDA_ERROR" in text or type(e).__name__ == "AcceleratorError"
    return cuda and "out of memory" not in text.lower()


def sample_clips(
    data: bytes | storage.FileRef,
    *,
    clips: Sequence[Clip],
    policy: sampling.SamplingPolicy,
    size: sampling.FrameSize,
    quality: int,
    duration_range: tuple[float | None, float | None] = (None, None),
    decoder: str = "cpu",
    gpu: bool = False,
) -> VideoFrames:
    """Sample every clip of one video in one pass over it.

    The clips' targets are merged in time order and decoded once; each frame shown at
    a target is JPEG-encoded once and goes to every clip that wants it, so spans that
    overlap or repeat cost nothing more. ``data`` is the video's bytes, or a
    ``FileRef`` opened here, in the decoding process, and read by ranges: the whole
    file never sits in memory. ``decoder`` is the mode (``routing.MODES``) and ``gpu``
    whether this process has a GPU: the video is probed on the CPU, routed
    (``routing.choose``), and decoded there; a GPU decode that fails is done again on
    the CPU. A failure of the video as a whole (unreadable, too large, filtered)
    raises ``DecodeFailure``; a failure of one clip is its ``ClipFailure``."""
    if decoder not in routing.MODES:
        raise ValueError(f"decoder must be one of {', '.join(routing.MODES)}, got {decoder!r}")

    def source() -> contextlib.AbstractContextManager[bytes | IO[bytes]]:
        if not isinstance(data, storage.FileRef):
            return contextlib.nullcontext(data)
        try:
            return data.open()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise DecodeFailure(Reason.MISSING_VIDEO, f"{data.display()} does not exist") from e

    with source() as f, cpu.CpuVideo(f) as video:
        info = video.probe()
        _check_caps(info)
        check_duration(info, duration_range)
        spans: list[tuple[float, float] | ClipFailure] = []
        for clip in clips:
            try:
                spans.append(clip_span(info, (clip.start, clip.end), clip.unit))
            except DecodeFailure as e:
                spans.append(ClipFailure(e.reason, e.message))
        wanted = [
            sampling.targets_for(policy, *span) if isinstance(span, tuple) else [] for span in spans
        ]
        targets = sorted({t for ts in wanted for t in ts})
        work = routing.frames_to_decode(video.keyframes, info.fps, targets)
        name, route = routing.choose(decoder, gpu=gpu, facts=video.facts(), frames_to_decode=work)
        fetched = None
        if name != "cpu":
            try:
                with source() as g, factory.get(name).open(g) as gpu_video:
                    fetched = gpu_video.fetch(targets, size=size, quality=quality)
            except Exception as e:  # any GPU failure: the CPU decodes this video instead
                name, route = "cpu", f"{name}_failed:{type(e).__name__}"
                if sticky_gpu_error(e):
                    global gpu_lost
                    gpu_lost = True
        if fetched is None:
            fetched = video.fetch(targets, size=size, quality=quality)
    shown = dict(zip(targets, fetched.times, strict=True))  # target -> frame time
    results: list[ClipFrames | ClipFailure] = []
    for span, clip_targets in zip(spans, wanted, strict=True):
        if isinstance(span, ClipFailure):
            results.append(span)
            continue
        # sorted targets: a clip's frames come in time order
        times = sampling.delivered(policy, [shown[t] for t in clip_targets])
        results.append(ClipFrames(span, times, [fetched.jpegs[t] for t in times]))
    return VideoFrames(info, fetched.size, results, fetched.decoded, name, route)
