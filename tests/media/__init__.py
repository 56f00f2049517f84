"""Tests of vidray.media, and the helpers the media tests share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vidray.media import decode, sampling


def one_clip(
    data: Any,
    *,
    clip: tuple[float | None, float | None],
    clip_unit: str = "s",
    sample: Callable[..., decode.VideoFrames] = decode.sample_clips,
    **kwargs: Any,
) -> tuple[decode.VideoInfo, list[float], list[bytes], tuple[int, int]]:
    """One clip through ``sample`` (``decode.sample_clips`` or an ``IsolatedDecoder``'s):
    (info, frame times, JPEGs, size); the clip's failure raised."""
    result = sample(data, clips=[decode.Clip(clip[0], clip[1], clip_unit)], **kwargs)
    (frames,) = result.clips
    if isinstance(frames, decode.ClipFailure):
        raise decode.DecodeFailure(frames.reason, frames.message)
    return result.info, frames.times, frames.jpegs, result.size


def distinct_shown(frame_times: Sequence[float], targets: Sequence[float]) -> list[int]:
    """The frames on screen at sorted ``targets``, each once, as the pipeline delivers
    them (``sampling.delivered`` over ``sampling.frame_shown_at``)."""
    shown = [sampling.frame_shown_at(frame_times, t) for t in sorted(targets)]
    return sampling.delivered(sampling.SamplingPolicy(), shown)
