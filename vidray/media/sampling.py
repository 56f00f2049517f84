"""Which instants of a clip to show, and which decoded frame each instant is.

Pure arithmetic, tested without any video. Times are seconds from the start of the
video (the first frame's presentation time is 0 for ordinary files).

Rules, as documented in the README:

* ``uniform(n)``: the clip ``[start, end)`` is cut into ``n`` equal segments and the
  target is each segment's centre, ``start + (i + 0.5) * (end - start) / n``. Centres
  never hit ``end`` (where no frame is shown) and keep the spacing even.
* ``fps(f, max_frames)``: targets every ``1/f`` seconds at segment centres,
  ``start + (k + 0.5) / f`` while ``< end``; more than ``max_frames`` targets fall back
  to ``uniform(max_frames)``, as LLaVA-style trainers cap frames. With ``regular``
  the spacing is kept instead: the first ``max_frames`` targets (the clip's first
  ``max_frames / f`` seconds), and every target gives a frame (see below), so a frame
  list read at ``f`` frames per second (LLaMA-Factory's ``video_fps``) has the clip's
  timing.
* ``frame_multiple`` K (Qwen2-VL's temporal patches of 2 frames): the count of
  targets is a multiple of K as qwen-vl-utils' ``smart_nframes`` makes it: uniform
  ``n`` rounded to the nearest multiple (Python's ``round``, so halves go to the even
  quotient: 5 -> 4, 7 -> 8 for K = 2) and at least K; the fps count and
  ``max_frames`` floored to a multiple (a count below K is kept). A clip that still
  yields a count that is not a multiple (fewer frames than targets, or fewer than K
  targets) repeats its last frame up to the next multiple, as qwen-vl-utils'
  ``fetch_video`` does for a frame list and Qwen2-VL's image processor for a video.
* The frame for a target ``t`` is the one the video shows at ``t``: the last frame
  whose presentation time is ``<= t`` (times within ``TIME_EPS``, a microsecond, are
  equal: float rounding never picks the frame before). A target before the first frame
  gets the first frame. The reported time is the frame's own, so a clip's first frame
  may have begun up to one frame before the clip's start: it is on screen inside it.
* A frame is delivered once. When the clip holds fewer frames than targets (a short
  or low-rate clip), several targets land on the same frame and the clip yields each
  of its frames once, so ``len(frames)`` can be smaller than asked. With ``regular``
  every target gives its frame, repeated where the video's rate is below ``f``.

Sizes (``scaled_size``): a short side in pixels, the source's size, or a
``PixelBudget``: the rule of qwen-vl-utils' ``smart_resize`` (both sides multiples of
28, the pixel count within ``[min_pixels, max_pixels]``, aspect kept as closely as
that allows), so Qwen2-VL's processor, which applies the same rule, leaves the frame
as it is.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from vidray.media.failure import DecodeFailure
from vidray.schema import Reason

#: Two times closer than this (seconds) are the same instant.
TIME_EPS = 1e-6


@dataclass(frozen=True)
class SamplingPolicy:
    """How many frames to take from a clip."""

    mode: Literal["uniform", "fps"] = "uniform"
    num_frames: int = 8
    fps: float | None = None
    max_frames: int = 64
    #: fps mode: frames exactly ``1/fps`` apart, one per target (repeated where the
    #: video is slower), the first ``max_frames`` of them on a longer clip.
    regular: bool = False
    #: Each clip's frame count is a multiple of this (2 for Qwen2-VL / Qwen2.5-VL).
    frame_multiple: int = 1

    def __post_init__(self) -> None:
        if self.mode not in ("uniform", "fps"):
            raise ValueError(f"mode must be 'uniform' or 'fps', got {self.mode!r}")
        if self.mode == "uniform" and self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.mode == "fps":
            if self.fps is None or not self.fps > 0:
                raise ValueError(f"fps must be > 0, got {self.fps!r}")
            if self.max_frames < 1:
                raise ValueError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.regular and self.mode != "fps":
            raise ValueError("regular sampling needs the fps mode")
        if self.frame_multiple < 1:
            raise ValueError(f"frame_multiple must be >= 1, got {self.frame_multiple}")
        if self.mode == "fps" and self.max_frames < self.frame_multiple:
            raise ValueError(
                f"max_frames ({self.max_frames}) is below frame_multiple ({self.frame_multiple})"
            )

    def recorded(self) -> dict[str, Any]:
        """The policy for the options fingerprint: the trainer options only when set,
        so an OUTPUT written before they existed keeps its fingerprint."""
        d: dict[str, Any] = {
            "mode": self.mode,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "max_frames": self.max_frames,
        }
        if self.regular:
            d["regular"] = True
        if self.frame_multiple != 1:
            d["frame_multiple"] = self.frame_multiple
        return d


def uniform_targets(start: float, end: float, n: int) -> list[float]:
    """Centres of ``n`` equal segments of ``[start, end)``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not end > start:
        raise ValueError(f"empty clip [{start}, {end})")
    step = (end - start) / n
    return [start + (i + 0.5) * step for i in range(n)]


def round_to_multiple(n: int, k: int) -> int:
    """``n`` rounded to the nearest multiple of ``k``, at least ``k``: qwen-vl-utils'
    ``round_by_factor`` (Python's ``round``: a half goes to the even quotient)."""
    return max(k, round(n / k) * k)


def fps_targets(
    start: float,
    end: float,
    fps: float,
    max_frames: int,
    *,
    regular: bool = False,
    multiple: int = 1,
) -> list[float]:
    """One target per ``1/fps`` seconds, capped at ``max_frames``: above it uniform,
    or with ``regular`` the first ``max_frames``. ``multiple``: the count and the cap
    floored to multiples of it (a count below it is kept)."""
    if not end > start:
        raise ValueError(f"empty clip [{start}, {end})")
    cap = max(multiple, max_frames - max_frames % multiple)
    count = max(1, int((end - start) * fps + 0.5))
    if count > cap and not regular:
        return uniform_targets(start, end, cap)
    # The grid points before the end, counted without listing them (a day-long clip
    # at a high rate has millions): the last one may fall on the end.
    if start + (count - 0.5) / fps >= end:
        count -= 1
    if count == 0:  # a clip shorter than half a period still gets its middle frame
        return [start + (end - start) / 2]
    if count > cap:
        count = cap
    elif count >= multiple:
        count -= count % multiple
    return [start + (k + 0.5) / fps for k in range(count)]


def targets_for(policy: SamplingPolicy, start: float, end: float) -> list[float]:
    """The targets of one clip under ``policy``: the one place they are computed."""
    k = policy.frame_multiple
    if policy.mode == "uniform":
        n = policy.num_frames if k == 1 else round_to_multiple(policy.num_frames, k)
        return uniform_targets(start, end, n)
    assert policy.fps is not None  # checked in SamplingPolicy
    return fps_targets(
        start, end, policy.fps, policy.max_frames, regular=policy.regular, multiple=k
    )


T = TypeVar("T")


def delivered(policy: SamplingPolicy, shown: Sequence[T]) -> list[T]:
    """A clip's frames from the frame shown at each of its sorted targets (a time or
    an index): each distinct frame once (with ``regular``, one per target), then the
    last repeated up to a multiple of ``policy.frame_multiple``."""
    if policy.regular:
        out = list(shown)
    else:
        out = [x for i, x in enumerate(shown) if i == 0 or shown[i - 1] != x]
    short = -len(out) % policy.frame_multiple
    if out and short:
        out.extend([out[-1]] * short)
    return out


def frame_shown_at(frame_times: Sequence[float], t: float) -> int:
    """Index of the frame shown at ``t`` among sorted presentation times."""
    if not frame_times:
        raise ValueError("no frames")
    # A target equal to a frame's time (up to float rounding) shows that frame.
    i = bisect.bisect_right(frame_times, t + TIME_EPS) - 1
    return max(i, 0)


def chosen_frames(
    policy: SamplingPolicy, frame_times: Sequence[float], start: float, end: float
) -> list[int]:
    """The policy applied to a clip whose every frame time is known (a folder of frame
    images): the indices of the frames delivered for [start, end), in order."""
    shown = [frame_shown_at(frame_times, t) for t in targets_for(policy, start, end)]
    return delivered(policy, shown)


#: qwen-vl-utils (``vision_process.py``): sides are multiples of 28 (patch 14 x merge
#: 2), a frame's aspect may not pass 200, and a video frame's default budget.
PIXEL_FACTOR = 28
MAX_RATIO = 200
VIDEO_MIN_PIXELS = 128 * 28 * 28
VIDEO_MAX_PIXELS = 768 * 28 * 28


@dataclass(frozen=True)
class PixelBudget:
    """Frames sized by qwen-vl-utils' ``smart_resize``: sides multiples of ``factor``,
    ``min_pixels <= width * height <= max_pixels``."""

    min_pixels: int = VIDEO_MIN_PIXELS
    max_pixels: int = VIDEO_MAX_PIXELS
    factor: int = PIXEL_FACTOR

    def __post_init__(self) -> None:
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor}")
        if self.min_pixels < 1:
            raise ValueError(f"min_pixels must be >= 1, got {self.min_pixels}")
        if self.max_pixels < self.factor**2:
            raise ValueError(
                f"max_pixels must be >= {self.factor**2} ({self.factor}x{self.factor}, the "
                f"smallest frame), got {self.max_pixels}"
            )
        if self.min_pixels > self.max_pixels:
            raise ValueError(
                f"min_pixels ({self.min_pixels}) is above max_pixels ({self.max_pixels})"
            )


#: How frames are sized: a short side in pixels, a pixel budget, or None (as stored).
FrameSize = int | PixelBudget | None


def budget_size(width: float, height: float, budget: PixelBudget) -> tuple[int, int]:
    """(width, height) by qwen-vl-utils' ``smart_resize``, kept inside the budget.

    Its rule: each side rounded to the nearest multiple of ``factor`` (at least one
    ``factor``); above ``max_pixels`` both sides scaled by ``sqrt(max / (w * h))`` and
    floored to multiples (at least one factor), below ``min_pixels`` scaled by
    ``sqrt(min / (w * h))`` and ceiled. An aspect ratio above 200 is refused, as
    there. The result is that rule's exactly, so Qwen2-VL's processor, applying it
    again, keeps the frame's size. Where the rule itself leaves the budget (a side
    held at one factor at an aspect beyond ``max_pixels / factor**2``, or a budget
    narrower than one rounding step) the frame is refused too (``bad_size``) rather
    than distorted: a delivered frame is always inside the budget. Neither happens
    with qwen-vl-utils' video defaults below an aspect of 200.
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"bad frame size {width}x{height}")
    shape = f"{float(width):g}x{float(height):g}"
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_RATIO:
        raise DecodeFailure(
            Reason.BAD_SIZE,
            f"aspect ratio {float(ratio):.1f} of a {shape} frame is above {MAX_RATIO}, "
            "which --min-pixels/--max-pixels (smart_resize) refuse",
        )
    f, lo, hi = budget.factor, budget.min_pixels, budget.max_pixels
    h = max(f, round(height / f) * f)
    w = max(f, round(width / f) * f)
    if h * w > hi:
        beta = math.sqrt(height * width / hi)
        h = max(f, math.floor(height / beta / f) * f)
        w = max(f, math.floor(width / beta / f) * f)
    elif h * w < lo:
        beta = math.sqrt(lo / (height * width))
        h = math.ceil(height * beta / f) * f
        w = math.ceil(width * beta / f) * f
    if not lo <= h * w <= hi:
        raise DecodeFailure(
            Reason.BAD_SIZE,
            f"smart_resize gives {w}x{h} for a {shape} frame, outside [{lo}, {hi}] pixels; "
            "widen --min-pixels/--max-pixels",
        )
    return w, h


def scaled_size(width: int, height: int, size: FrameSize) -> tuple[int, int]:
    """Output size: the short side set to ``size`` (aspect kept, the long side rounded
    to the nearest pixel), a ``PixelBudget``'s size (``budget_size``), or, for None,
    the source size. The one place an output size is computed."""
    if width < 1 or height < 1:
        raise ValueError(f"bad frame size {width}x{height}")
    if size is None:
        return width, height
    if isinstance(size, PixelBudget):
        return budget_size(width, height, size)
    short_side = size
    if short_side < 1:
        raise ValueError(f"size must be >= 1, got {short_side}")
    if width <= height:
        return short_side, max(1, round(height * short_side / width))
    return max(1, round(width * short_side / height)), short_side
