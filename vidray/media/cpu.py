"""The CPU decoder: PyAV (FFmpeg's software decoders), one thread per decoder.

What it decodes, for sorted targets:

* **Seeks from the keyframe index.** Where the container has an index (mp4, mov,
  Matroska cues), it seeks when a key frame lies between the last decoded frame and
  the next target, and decodes forward otherwise. Without an index it seeks across
  gaps wider than ``SEEK_GAP_S``. A seek that lands after its target (a key frame
  decoded before the target but shown after it, or a bad index) seeks further back,
  then falls back to decoding from the start: the answer never depends on seeking.
* **Skips what nothing shows.** Packets are read ahead by ``LOOKAHEAD``; a packet
  whose frame is not the one on screen at any remaining target (its presentation
  time and its successor's bracket no target) is decoded with ``skip_frame=NONREF``:
  FFmpeg then drops it when no other frame references it (B-frames), and decodes it
  when one does. With one decoder thread the setting applies to that packet.
* **Only delivered frames are converted** (``vidray.media.pictures``): one swscale
  pass to the output size, the stream's rotation applied, JPEG by libjpeg(-turbo).
"""

from __future__ import annotations

import bisect
import io
from collections import deque
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import IO, Any

import av
import av.error

from vidray.media import routing, sampling
from vidray.media.decoder import DecodeFailure, Fetched, VideoInfo, check_fetch_args
from vidray.media.pictures import (
    encode_jpeg,
    geometry,
    turned,
)
from vidray.media.sampling import TIME_EPS
from vidray.schema import Reason

#: Without a keyframe index, targets further apart than this are reached by seeking.
SEEK_GAP_S = 4.0
#: Packets read ahead of the one being decoded: more than any B-frame reorder depth,
#: so a packet's successor in presentation order is among them.
LOOKAHEAD = 24
_MATROSKA = {"matroska", "webm", "matroska,webm"}


class CpuDecoder:
    name = "cpu"

    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads

    def open(self, source: bytes | IO[bytes]) -> CpuVideo:
        return CpuVideo(source, threads=self.threads)


class _SeekOvershoot(Exception):
    pass


class CpuVideo:
    """One opened video stream. Use as a context manager."""

    def __init__(self, source: bytes | IO[bytes], *, threads: int = 1, hwaccel: Any = None) -> None:
        """``source``: the file's bytes, or a seekable binary file that FFmpeg reads by
        ranges (what a ``FileRef`` opens: only the parts decoding needs are read).
        ``hwaccel``: PyAV hardware decoding settings (the NVDEC decoder's)."""
        try:
            f = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
            self._container = av.open(f, mode="r", hwaccel=hwaccel)
        except (av.error.FFmpegError, ValueError, OSError) as e:
            raise DecodeFailure(Reason.DECODE_ERROR, f"cannot open container: {e}") from e
        if not self._container.streams.video:
            self._container.close()
            raise DecodeFailure(Reason.NO_VIDEO_STREAM, "the file has no video stream")
        self._stream = self._container.streams.video[0]
        # One thread: decode workers already run one per core, and ``skip_frame`` set
        # before a packet must apply to that packet (frame threading would delay it).
        self._stream.codec_context.thread_count = threads
        # Only streams that reorder frames (B-frames) have frames nothing references.
        self._reorders = bool(self._stream.codec_context.has_b_frames)
        # Without reordering a frame's successor is the next packet: read one ahead.
        self._lookahead = LOOKAHEAD if self._reorders else 1
        self._skipping = threads == 1 and self._reorders
        self._tb = self._stream.time_base
        # Integer arithmetic, then one correctly rounded division: the same float as
        # ``float((pts - start) * time_base)``, without a Fraction per packet.
        self._num, self._den = self._tb.numerator, self._tb.denominator
        self._start = self._stream.start_time or 0
        #: Key frame times from the container's index (empty without one).
        self.keyframes = self._keyframe_times()
        #: Frames the decoder produced so far (delivered or not).
        self.decoded = 0

    def __enter__(self) -> CpuVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    # -- facts

    def probe(self) -> VideoInfo:
        """Container-level facts; nothing is decoded."""
        s, c = self._stream, self._container
        duration = None
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif c.duration is not None:
            duration = c.duration / av.time_base
            if c.format.name in _MATROSKA and c.start_time:
                # Matroska's Duration counts from timestamp 0, not from the first frame:
                # with a start offset it is the end time, not the length.
                duration -= c.start_time / av.time_base
        rate = s.average_rate or s.guessed_rate
        sar = s.sample_aspect_ratio or s.codec_context.sample_aspect_ratio
        return VideoInfo(
            duration=duration,
            fps=float(rate) if rate else None,
            width=s.codec_context.width,
            height=s.codec_context.height,
            sar=Fraction(sar) if sar and sar != 1 else None,
        )

    def facts(self) -> routing.StreamFacts:
        """Codec, pixel format and size: what decides whether NVDEC can take it."""
        cc = self._stream.codec_context
        pix = cc.pix_fmt if isinstance(cc.pix_fmt, str) or cc.pix_fmt is None else None
        return routing.StreamFacts(cc.name, pix, cc.width, cc.height)

    def _keyframe_times(self) -> list[float]:
        """Key frame times from the container's index, sorted; empty without one."""
        try:
            entries = self._stream.index_entries
            tb = float(self._tb)  # seek decisions only: float arithmetic is plenty
            times = {(e.timestamp - self._start) * tb for e in entries if e.is_keyframe}
        except (AttributeError, av.error.FFmpegError):
            return []
        return sorted(times)

    # -- frames

    def fetch(self, targets: Sequence[float], *, size: sampling.FrameSize, quality: int) -> Fetched:
        check_fetch_args(targets, size, quality)
        info = self.probe()
        out = Fetched(times=[], jpegs={}, size=(info.width, info.height))
        plan: tuple[tuple[int, int], int] | None = None
        for _, t, frame in self.frames_shown(list(targets)):
            out.times.append(t)
            if t in out.jpegs:
                continue
            if plan is None:  # the display geometry, from the first delivered frame
                plan = geometry(info, frame.rotation, size)
                out.size = turned(plan[0], plan[1])
                out.rotation = plan[1]
            out.jpegs[t] = self.encode(frame, plan[0], quality, rotation=plan[1])
        if plan is None:
            out.size = turned(*geometry(info, 0, size))
        out.decoded = self.decoded
        return out

    def encode(
        self, frame: av.VideoFrame, size: tuple[int, int], quality: int, *, rotation: int
    ) -> bytes:
        """One delivered frame as a JPEG (the GPU decoder encodes on the GPU)."""
        return encode_jpeg(frame, size, quality, rotation=rotation)

    def _time(self, pts: int) -> float:
        return (pts - self._start) * self._num / self._den

    def _seek(self, t: float) -> None:
        # ``t / time_base`` as Fraction's float division computes it, without a Fraction
        tb = self._num / self._den
        self._container.seek(int(self._start + t / tb), stream=self._stream, backward=True)

    def _should_seek(self, pos: float | None, target: float) -> bool:
        """Whether seeking to ``target`` skips frames decoding forward from ``pos``
        would decode: a key frame lies after ``pos`` and at or before ``target``."""
        if pos is None:
            pos = 0.0
        if not self.keyframes:
            return target - pos > SEEK_GAP_S
        k = bisect.bisect_right(self.keyframes, target + TIME_EPS) - 1
        return k >= 0 and self.keyframes[k] > pos + TIME_EPS

    def frames_shown(self, targets: list[float]) -> Iterator[tuple[float, float, av.VideoFrame]]:
        """(target, frame time, frame) for each of the sorted ``targets``, in order, as
        decoding reaches them: the frame on screen at the target (the last one whose
        time is at or before it; the first frame for a target before it). The caller
        encodes each frame and lets it go, so only the frame on screen stays decoded."""
        done = 0
        try:
            try:
                for i, t, frame in self._shown(targets, allow_seek=True):
                    done = i + 1
                    yield targets[i], t, frame
            except _SeekOvershoot:
                self._seek(0.0)
                self._flush()
                rest = targets[done:]
                for i, t, frame in self._shown(rest, allow_seek=False):
                    yield rest[i], t, frame
        except av.error.FFmpegError as e:
            raise DecodeFailure(Reason.DECODE_ERROR, f"decoding failed: {e}") from e

    def _flush(self) -> None:
        self._stream.codec_context.flush_buffers()

    def _shown(
        self, targets: list[float], *, allow_seek: bool
    ) -> Iterator[tuple[int, float, av.VideoFrame]]:
        n = len(targets)
        cursor = [0]  # the next target: read by the decoding loop to decide what to skip
        prev: tuple[float, av.VideoFrame] | None = None
        pos: float | None = None  # time of the last decoded frame
        sought = -1  # the target the last seek aimed at: never seek twice for one
        seek_to: float | None = None
        backoff = 0
        while cursor[0] < n:
            i = cursor[0]
            if (
                seek_to is None
                and allow_seek
                and sought != i
                and self._should_seek(pos, targets[i])
            ):
                seek_to = targets[i]
            seeked = seek_to is not None
            before = pos
            if seek_to is not None:
                self._seek(max(0.0, seek_to))
                self._flush()
                sought, prev, seek_to = i, None, None
            needs_seek = False
            first = True
            frames = self._decode(targets, cursor, fresh=seeked or pos is None)
            try:
                for frame, following in frames:
                    t = self._time(frame.pts)
                    if seeked and first:
                        if t > targets[i] + TIME_EPS:
                            # Landed after the target (a key frame whose decode time
                            # is before the target and its display time after): seek
                            # further back, then give up on seeking.
                            backoff += 1
                            if backoff > 3:
                                raise _SeekOvershoot
                            seek_to = targets[i] - (t - targets[i]) - 2.0**backoff
                            needs_seek = True
                            break
                        if before is not None and t <= before and not self.keyframes:
                            # No key frame between here and the target: seeking only
                            # rewinds, so decode straight on from now on.
                            allow_seek = False
                    first = False
                    while cursor[0] < n and t > targets[cursor[0]] + TIME_EPS:
                        # ``prev`` is the frame on screen at the target; with no ``prev``
                        # the target precedes the first frame, which then stands for it.
                        yield (cursor[0], *(prev if prev is not None else (t, frame)))
                        cursor[0] += 1
                    if cursor[0] == n:
                        return
                    prev, pos = (t, frame), t
                    # The next frame's time is known from the packets read ahead: the
                    # targets before it are served now, without decoding it.
                    while following is not None and targets[cursor[0]] + TIME_EPS < following:
                        yield (cursor[0], t, frame)
                        cursor[0] += 1
                        if cursor[0] == n:
                            return
                    nxt = targets[cursor[0]]
                    if allow_seek and sought != cursor[0] and self._should_seek(t, nxt):
                        needs_seek = True
                        break
            finally:
                frames.close()
            if not needs_seek:
                # End of stream: the last frame stays on screen until the end.
                if prev is None:
                    raise DecodeFailure(Reason.DECODE_ERROR, "no frame could be decoded")
                while cursor[0] < n:
                    yield (cursor[0], *prev)
                    cursor[0] += 1

    def _decode(
        self, targets: list[float], cursor: list[int], *, fresh: bool
    ) -> Iterator[tuple[av.VideoFrame, float | None]]:
        """Decoded frames with a time, in presentation order, from the current read
        position, each with the time of the frame after it when the packets read
        ahead tell it (None otherwise). Packets whose frame no remaining target shows
        are decoded with ``skip_frame=NONREF`` (dropped unless another frame
        references them)."""
        cc = self._stream.codec_context
        window: deque[av.Packet] = deque()
        ahead: deque[int | None] = deque()  # the pts of the packets in ``window``
        sent: deque[int] = deque(maxlen=LOOKAHEAD)  # pts of the packets decoded last
        # The first frame after a start or a seek stands for targets before it: keep it.
        state = {"fresh": fresh}

        skip = "DEFAULT"

        def decode(
            packet: av.Packet | None, pts: int | None
        ) -> Iterator[tuple[av.VideoFrame, float | None]]:
            nonlocal skip
            if packet is not None:
                if self._skipping:
                    needed = state["fresh"] or self._needed(pts, ahead, sent, targets, cursor)
                    if (want := "DEFAULT" if needed else "NONREF") != skip:
                        cc.skip_frame = skip = want
                if pts is not None:
                    sent.append(pts)
            for frame in cc.decode(packet):
                if frame.pts is None:
                    continue
                self.decoded += 1
                state["fresh"] = False
                yield frame, self._following(frame.pts, ahead, sent)

        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:  # the demuxer's end-of-stream packet
                    continue
                window.append(packet)
                ahead.append(packet.pts)
                if len(window) > self._lookahead:
                    yield from decode(window.popleft(), ahead.popleft())
            while window:
                yield from decode(window.popleft(), ahead.popleft())
            yield from decode(None, None)  # drain the frames the decoder holds back
        finally:
            cc.skip_frame = "DEFAULT"

    def _following(self, pts: int, ahead: deque[int | None], sent: deque[int]) -> float | None:
        """The time of the frame after ``pts`` in presentation order, when one of the
        packets just decoded or read ahead (their pts: ``sent``, ``ahead``) holds it."""
        if not self._reorders:  # decode order is presentation order: the next packet
            nxt = ahead[0] if ahead else None
            return self._time(nxt) if nxt is not None and nxt > pts else None
        later = min((q for q in ahead if q is not None and q > pts), default=None)
        for q in sent:
            if q > pts and (later is None or q < later):
                later = q
        return None if later is None else self._time(later)

    def _needed(
        self,
        pts: int | None,
        ahead: deque[int | None],
        sent: deque[int],
        targets: list[float],
        cursor: list[int],
    ) -> bool:
        """Whether the frame of the packet with ``pts`` may be the one on screen at a
        remaining target: its time is at or before the target and the next frame's (in
        presentation order, among the packets just decoded and read ahead) after it."""
        if pts is None or cursor[0] >= len(targets):
            return True
        t = self._time(pts)
        following = self._following(pts, ahead, sent)
        if following is None:
            following = float("inf")
        k = bisect.bisect_left(targets, t - TIME_EPS, lo=cursor[0])
        return k < len(targets) and targets[k] + TIME_EPS < following
