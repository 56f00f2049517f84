"""Which instants of a clip to show, and which decoded frame each instant is.

Pure arithmetic, tested without any video. Times are seconds from the start of the
video (the first frame's presentation time is 0 for ordinary files).

Rules, as documented in the README:

* ``uniform(n)``: the clip ``[start, end)`` is cut into ``n`` equal segments and the
  target is each segment's centre, ``start + (i + 0.5) * (end - start) / n``. Centres
  never hit ``end`` (where no frame is shown) and keep the spacing even.
* ``fps(f, max_frames)``: targets every ``1/f`` seconds at segment centres,
  ``start + (k + 0.5) / f`` while ``< end``; more than ``max_frames`` targets fall back
  to ``uniform(max_frames)``, as LLaVA-style trainers cap frames.
* The frame for a target ``t`` is the one the video shows at ``t``: the last frame
  whose presentation time is ``<= t`` (times within ``TIME_EPS``, a microsecond, are
  equal: float rounding never picks the frame before). A target before the first frame
  gets the first frame. The reported time is the frame's own, so a clip's first frame
  may have begun up to one frame before the clip's start: it is on screen inside it.
* A frame is delivered once. When the clip holds fewer frames than targets (a short
  or low-rate clip), several targets land on the same frame and the clip yields each
  of its frames once, so ``len(frames)`` can be smaller than asked.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

#: Two times closer than this (seconds) are the same instant.
TIME_EPS = 1e-6


@dataclass(frozen=True)
class SamplingPolicy:
    """How many frames to take from a clip."""

    mode: Literal["uniform", "fps"] = "uniform"
    num_frames: int = 8
    fps: float | None = None
    max_frames: int = 64

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


def uniform_targets(start: float, end: float, n: int) -> list[float]:
    """Centres of ``n`` equal segments of ``[start, end)``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not end > start:
        raise ValueError(f"empty clip [{start}, {end})")
    step = (end - start) / n
    return [start + (i + 0.5) * step for i in range(n)]


def fps_targets(start: float, end: float, fps: float, max_frames: int) -> list[float]:
    """One target per ``1/fps`` seconds, capped at ``max_frames`` (then uniform)."""
    if not end > start:
        raise ValueError(f"empty clip [{start}, {end})")
    count = max(1, int((end - start) * fps + 0.5))
    if count > max_frames:
        return uniform_targets(start, end, max_frames)
    targets = [start + (k + 0.5) / fps for k in range(count)]
    return [t for t in targets if t < end] or [start + (end - start) / 2]


def targets_for(policy: SamplingPolicy, start: float, end: float) -> list[float]:
    if policy.mode == "uniform":
        return uniform_targets(start, end, policy.num_frames)
    assert policy.fps is not None  # checked in SamplingPolicy
    return fps_targets(start, end, policy.fps, policy.max_frames)


def frame_shown_at(frame_times: Sequence[float], t: float) -> int:
    """Index of the frame shown at ``t`` among sorted presentation times."""
    if not frame_times:
        raise ValueError("no frames")
    # A target equal to a frame's time (up to float rounding) shows that frame.
    i = bisect.bisect_right(frame_times, t + TIME_EPS) - 1
    return max(i, 0)


def select_frames(frame_times: Sequence[float], targets: Sequence[float]) -> list[int]:
    """Distinct frame indices, in time order, shown at the given targets."""
    chosen: list[int] = []
    for t in sorted(targets):
        i = frame_shown_at(frame_times, t)
        if not chosen or chosen[-1] != i:
            chosen.append(i)
    return chosen


def scaled_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """Output size with the short side set to ``short_side``, aspect kept.

    ``None`` keeps the source size. The long side is rounded to the nearest pixel.
    """
    if width < 1 or height < 1:
        raise ValueError(f"bad frame size {width}x{height}")
    if short_side is None:
        return width, height
    if short_side < 1:
        raise ValueError(f"size must be >= 1, got {short_side}")
    if width <= height:
        return short_side, max(1, round(height * short_side / width))
    return max(1, round(width * short_side / height)), short_side
