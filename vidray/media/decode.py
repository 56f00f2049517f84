"""CPU decoding with PyAV: open from bytes or a file read by ranges, probe, fetch the
frames shown at given times.

Only the frames that are delivered are scaled, colour-converted (one swscale pass,
straight to the output size) and JPEG-encoded; every other decoded frame is dropped
as soon as the next one arrives.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import av
import av.error
from PIL import Image

from vidray.io import storage
from vidray.media import sampling

#: Targets further apart than this are reached by seeking to the key frame before
#: them rather than by decoding forward. Web video puts key frames every 2-10 s, so a
#: smaller gap would often seek backwards past frames already decoded.
SEEK_GAP_S = 4.0


#: Caps against hostile or absurd headers, checked before any frame is decoded.
MAX_PIXELS = 8192 * 4608  # 8K
MAX_DURATION_S = 24 * 3600.0


class DecodeFailure(Exception):
    """A sample-level failure: becomes an error row with ``reason``, never a crash."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class VideoInfo:
    duration: float | None
    fps: float | None
    width: int
    height: int


class Video:
    """One opened video stream. Use as a context manager."""

    def __init__(self, data: bytes | IO[bytes], *, threads: int = 1) -> None:
        """``data``: the file's bytes, or a seekable binary file that FFmpeg reads by
        ranges (what a ``FileRef`` opens: only the parts decoding needs are read)."""
        try:
            source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
            self._container = av.open(source, mode="r")
        except (av.error.FFmpegError, ValueError, OSError) as e:
            raise DecodeFailure("decode_error", f"cannot open container: {e}") from e
        if not self._container.streams.video:
            self._container.close()
            raise DecodeFailure("no_video_stream", "the file has no video stream")
        self._stream = self._container.streams.video[0]
        # One FFmpeg thread per decoder: decode actors already run one per core.
        self._stream.codec_context.thread_count = threads
        self._tb = self._stream.time_base
        self._start = self._stream.start_time or 0

    def __enter__(self) -> Video:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def info(self) -> VideoInfo:
        """Container-level facts; nothing is decoded."""
        s = self._stream
        duration = None
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / av.time_base
        rate = s.average_rate or s.guessed_rate
        fps = float(rate) if rate else None
        return VideoInfo(
            duration=duration,
            fps=fps,
            width=s.codec_context.width,
            height=s.codec_context.height,
        )

    def _time(self, frame: av.VideoFrame) -> float:
        return float((frame.pts - self._start) * self._tb)

    def _seek(self, t: float) -> None:
        self._container.seek(int(self._start + t / self._tb), stream=self._stream, backward=True)

    def frames_at(self, targets: list[float]) -> list[tuple[float, av.VideoFrame]]:
        """The distinct frames shown at ``targets`` (seconds), with their own times."""
        chosen: list[tuple[float, av.VideoFrame]] = []
        for _, t, frame in self.frames_shown(sorted(targets)):
            if not chosen or chosen[-1][0] != t:
                chosen.append((t, frame))
        return chosen

    def frames_shown(self, targets: list[float]) -> Iterator[tuple[float, float, av.VideoFrame]]:
        """(target, frame time, frame) for each of the sorted ``targets``, in order, as
        decoding reaches them: the caller encodes each frame and lets it go, so only
        the frame on screen stays decoded.

        Decodes forward and seeks only across gaps wider than ``SEEK_GAP_S``. If a seek
        lands after its target (a container with a bad index), the video is decoded
        again from the start without seeking, so the answer never depends on seeking.
        """
        done = 0
        try:
            try:
                for i, t, frame in self._shown(targets, allow_seek=True):
                    done = i + 1
                    yield targets[i], t, frame
            except _SeekOvershoot:
                self._seek(0.0)
                rest = targets[done:]
                for i, t, frame in self._shown(rest, allow_seek=False):
                    yield rest[i], t, frame
        except av.error.FFmpegError as e:
            raise DecodeFailure("decode_error", f"decoding failed: {e}") from e

    def _shown(
        self, targets: list[float], *, allow_seek: bool
    ) -> Iterator[tuple[int, float, av.VideoFrame]]:
        i, n = 0, len(targets)
        prev: tuple[float, av.VideoFrame] | None = None
        pos = 0.0  # time of the last decoded frame (or the start)
        sought = -1  # index of the target the last seek aimed at: never seek twice for it
        while i < n:
            seeked = allow_seek and sought != i and targets[i] - pos > SEEK_GAP_S
            if seeked:
                self._seek(targets[i])
                sought, prev, before = i, None, pos
            needs_seek = False
            for frame in self._container.decode(self._stream):
                if frame.pts is None:
                    continue
                t = self._time(frame)
                if seeked and prev is None:
                    if t > targets[i]:
                        raise _SeekOvershoot
                    if t <= before:
                        # No key frame between here and the target: seeking only
                        # rewinds, so decode straight on from now on.
                        allow_seek = False
                while i < n and t > targets[i]:
                    # ``prev`` is the frame on screen at targets[i]; with no ``prev``
                    # the target precedes the first frame, which then stands for it.
                    yield (i, *(prev if prev is not None else (t, frame)))
                    i += 1
                if i == n:
                    break
                prev, pos = (t, frame), t
                if allow_seek and sought != i and targets[i] - t > SEEK_GAP_S:
                    needs_seek = True
                    break
            else:
                # End of stream: the last frame stays on screen until the end.
                if prev is None:
                    raise DecodeFailure("decode_error", "no frame could be decoded")
                while i < n:
                    yield (i, *prev)
                    i += 1
            if not needs_seek:
                break


class _SeekOvershoot(Exception):
    pass


def encode_jpeg(frame: av.VideoFrame, size: tuple[int, int], quality: int) -> bytes:
    """Scale and convert in one swscale pass, then JPEG-encode with libjpeg(-turbo)."""
    width, height = size
    rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    image = Image.fromarray(rgb.to_ndarray())
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _check_caps(info: VideoInfo) -> None:
    if info.width * info.height > MAX_PIXELS:
        raise DecodeFailure(
            "too_large", f"frame size {info.width}x{info.height} exceeds {MAX_PIXELS} pixels"
        )
    if info.duration is not None and info.duration > MAX_DURATION_S:
        raise DecodeFailure(
            "too_large", f"duration {info.duration:.0f} s exceeds {MAX_DURATION_S:.0f} s"
        )


def check_duration(info: VideoInfo, duration_range: tuple[float | None, float | None]) -> None:
    low, high = duration_range
    if low is None and high is None:
        return
    if info.duration is None:
        raise DecodeFailure("decode_error", "the container reports no duration to filter on")
    if (low is not None and info.duration < low) or (high is not None and info.duration > high):
        bounds = f"[{low if low is not None else 0:g}, {high if high is not None else 'inf'}]"
        raise DecodeFailure(
            "filtered_duration", f"duration {info.duration:.3f} s is outside {bounds} s"
        )


def clip_span(
    info: VideoInfo, clip: tuple[float | None, float | None], unit: str = "s"
) -> tuple[float, float]:
    """The clip in seconds, checked against the video. ``unit="frame"`` reads the span
    as frame indices (EgoTaskQA intervals, MovieChat breakpoints) at the stream's rate."""
    start, end = clip
    if unit == "frame":
        if not info.fps:
            raise DecodeFailure("decode_error", "a span in frames needs the stream's frame rate")
        start = None if start is None else start / info.fps
        end = None if end is None else end / info.fps
    elif unit != "s":
        raise ValueError(f"span unit must be 's' or 'frame', got {unit!r}")
    start = start if start is not None else 0.0
    end = end if end is not None else info.duration
    if end is None:
        raise DecodeFailure("decode_error", "the container reports no duration")
    if start < 0 or not end > start:
        raise DecodeFailure("bad_span", f"empty or negative span [{start:g}, {end:g}] s")
    if info.duration is not None and end > info.duration + 1e-3:
        raise DecodeFailure(
            "bad_span", f"span [{start:g}, {end:g}] s ends after the video ({info.duration:.3f} s)"
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


def sample_clips(
    data: bytes | storage.FileRef,
    *,
    clips: Sequence[Clip],
    policy: sampling.SamplingPolicy,
    size: int | None,
    quality: int,
    duration_range: tuple[float | None, float | None] = (None, None),
) -> VideoFrames:
    """Sample every clip of one video in one pass over it.

    The clips' targets are merged in time order and decoded once; each frame shown at
    a target is JPEG-encoded once and goes to every clip that wants it, so spans that
    overlap or repeat cost nothing more. ``data`` is the video's bytes, or a
    ``FileRef`` opened here, in the decoding process, and read by ranges: the whole
    file never sits in memory. A failure of the video as a whole (unreadable, too
    large, filtered) raises ``DecodeFailure``; a failure of one clip is its
    ``ClipFailure``."""
    if isinstance(data, storage.FileRef):
        try:
            f = data.open()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise DecodeFailure("missing_video", f"{data.display()} does not exist") from e
        with f:
            return _sample_clips(f, clips, policy, size, quality, duration_range)
    return _sample_clips(data, clips, policy, size, quality, duration_range)


def _sample_clips(
    data: bytes | IO[bytes],
    clips: Sequence[Clip],
    policy: sampling.SamplingPolicy,
    size: int | None,
    quality: int,
    duration_range: tuple[float | None, float | None],
) -> VideoFrames:
    with Video(data) as video:
        info = video.info()
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
        out_size = sampling.scaled_size(info.width, info.height, size)
        shown: dict[float, float] = {}  # target -> time of the frame shown there
        jpegs: dict[float, bytes] = {}  # frame time -> its JPEG
        for target, t, frame in video.frames_shown(sorted({t for ts in wanted for t in ts})):
            shown[target] = t
            if t not in jpegs:
                jpegs[t] = encode_jpeg(frame, out_size, quality)
        results: list[ClipFrames | ClipFailure] = []
        for span, targets in zip(spans, wanted, strict=True):
            if isinstance(span, ClipFailure):
                results.append(span)
                continue
            times: list[float] = []
            for target in targets:  # sorted: a clip's frames come in time order
                if not times or times[-1] != shown[target]:
                    times.append(shown[target])
            results.append(ClipFrames(span, times, [jpegs[t] for t in times]))
        return VideoFrames(info, out_size, results)


def sample_video(
    data: bytes | storage.FileRef,
    *,
    policy: sampling.SamplingPolicy,
    clip: tuple[float | None, float | None],
    size: int | None,
    quality: int,
    clip_unit: str = "s",
    duration_range: tuple[float | None, float | None] = (None, None),
) -> tuple[VideoInfo, list[float], list[bytes], tuple[int, int]]:
    """One clip of one video: (info, frame times, JPEGs, (width, height))."""
    result = sample_clips(
        data,
        clips=[Clip(clip[0], clip[1], clip_unit)],
        policy=policy,
        size=size,
        quality=quality,
        duration_range=duration_range,
    )
    return unpack_single(result)


def unpack_single(
    result: VideoFrames,
) -> tuple[VideoInfo, list[float], list[bytes], tuple[int, int]]:
    """The one clip of ``result`` as (info, times, JPEGs, size); its failure raised."""
    (clip,) = result.clips
    if isinstance(clip, ClipFailure):
        raise DecodeFailure(clip.reason, clip.message)
    return result.info, clip.times, clip.jpegs, result.size


def sample_images(
    images: list[bytes],
    *,
    times: list[float],
    info: VideoInfo,
    size: int | None,
    quality: int,
) -> tuple[VideoInfo, list[float], list[bytes], tuple[int, int]]:
    """Frames that are already images (ShareGPTVideo's JPEG folders): decode, scale to
    the output size, re-encode. ``times`` and ``info`` come from the folder listing."""
    out: list[bytes] = []
    out_size: tuple[int, int] | None = None
    for k, data in enumerate(images):
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise DecodeFailure("too_large", f"image {k} exceeds {MAX_PIXELS} pixels")
                rgb = image.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise DecodeFailure("decode_error", f"frame image {k} is unreadable: {e}") from e
        if out_size is None:
            out_size = sampling.scaled_size(rgb.width, rgb.height, size)
            info = VideoInfo(info.duration, info.fps, rgb.width, rgb.height)
        if rgb.size != out_size:
            rgb = rgb.resize(out_size, Image.Resampling.BOX)
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", quality=quality)
        out.append(buf.getvalue())
    if out_size is None:
        raise DecodeFailure("decode_error", "the frame folder holds no images")
    return info, times, out, out_size
