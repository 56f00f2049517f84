"""Which decoder takes a video: pure rules, decided per video after a probe.

``--decoder cpu`` always decodes on the CPU. ``--decoder nvdec`` and ``auto`` decode on
the GPU only when the decoding process has one and NVDEC can take the stream (codec,
chroma format, bit depth, size); ``auto`` also asks the cost model, since NVDEC loses
on small frames sampled sparsely. Any video NVDEC cannot take, or fails on, goes to the
CPU: never a silent loss. Each decision carries its reason, counted per job.

Figures behind the cost model (``../shared/guide/performance.md``, torchcodec's README):
NVDEC pays off at 720p and above, 2.7x the CPU at 1080p with many streams; for 10
sparse frames of 540p video it loses badly, 3.4 against 33 frames/s, because opening
a hardware decoder and a seek each cost milliseconds.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from vidray.media.registry import DECODERS

MODES = DECODERS

#: NVDEC's reach (NVIDIA Video Codec SDK support matrix, Turing and later; AV1 needs
#: Ampere GA10x or later, which the A100 is not): codec -> (max width, max height,
#: pixel formats it decodes).
NVDEC_LIMITS: dict[str, tuple[int, int, frozenset[str]]] = {
    "h264": (4096, 4096, frozenset({"yuv420p", "yuvj420p"})),
    "hevc": (8192, 8192, frozenset({"yuv420p", "yuvj420p", "yuv420p10le", "yuv420p12le"})),
    "av1": (8192, 8192, frozenset({"yuv420p", "yuv420p10le"})),
    "vp9": (8192, 8192, frozenset({"yuv420p", "yuv420p10le", "yuv420p12le"})),
    "vp8": (4096, 4096, frozenset({"yuv420p"})),
    "mpeg2video": (4080, 4080, frozenset({"yuv420p"})),
    "mpeg4": (2032, 2032, frozenset({"yuv420p"})),
}
NVDEC_MIN_SIZE = (48, 16)
#: The cost model: the GPU pays off from this many pixels a frame ...
GPU_MIN_PIXELS = 1280 * 720
#: ... and this many frames to decode for the video (sparse sampling of short clips
#: decodes a few dozen frames: not worth a hardware session).
GPU_MIN_FRAMES = 48


@dataclass(frozen=True)
class StreamFacts:
    """What routing needs to know of a stream, from its probe."""

    codec: str
    pix_fmt: str | None
    width: int
    height: int


def nvdec_refusal(facts: StreamFacts) -> str | None:
    """Why NVDEC cannot decode ``facts``' stream, or None when it can."""
    limits = NVDEC_LIMITS.get(facts.codec)
    if limits is None:
        return f"nvdec_codec:{facts.codec}"
    max_w, max_h, formats = limits
    if facts.pix_fmt not in formats:
        return f"nvdec_format:{facts.pix_fmt}"
    min_w, min_h = NVDEC_MIN_SIZE
    if not (min_w <= facts.width <= max_w and min_h <= facts.height <= max_h):
        return f"nvdec_size:{facts.width}x{facts.height}"
    if facts.width % 2 or facts.height % 2:
        # An odd size (VP8/VP9 allow 641x361): PyAV exports 4:2:0 chroma planes a row
        # and a column short of it; refused before a hardware session opens.
        return f"nvdec_odd_size:{facts.width}x{facts.height}"
    return None


def gpu_pays_off(facts: StreamFacts, frames_to_decode: int) -> bool:
    """The cost model: large frames, and enough of them to decode."""
    return facts.width * facts.height >= GPU_MIN_PIXELS and frames_to_decode >= GPU_MIN_FRAMES


def choose(mode: str, *, gpu: bool, facts: StreamFacts, frames_to_decode: int) -> tuple[str, str]:
    """(decoder name, reason) for one video. ``gpu``: the decoding process has one."""
    if mode not in MODES:
        raise ValueError(f"decoder mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "cpu":
        return "cpu", "asked"
    if not gpu:
        return "cpu", "no_gpu"
    refusal = nvdec_refusal(facts)
    if refusal is not None:
        return "cpu", refusal
    if mode == "auto" and not gpu_pays_off(facts, frames_to_decode):
        return "cpu", "cost_model"
    return "nvdec", "asked" if mode == "nvdec" else "cost_model"


def frames_to_decode(keyframes: list[float], fps: float | None, targets: list[float]) -> int:
    """About how many frames decoding ``targets`` takes: from the key frame before
    each target to it, at ``fps``, without counting a stretch twice (key frames every
    2 s are assumed when the container has no index)."""
    if not targets:
        return 0
    rate = fps or 25.0
    keys = keyframes or [k * 2.0 for k in range(int(targets[-1] / 2.0) + 1)]
    total, covered_to = 0.0, -1.0
    for t in targets:
        k = bisect.bisect_right(keys, t) - 1
        start = max(keys[k] if k >= 0 else 0.0, covered_to)
        if t > start:
            total += t - start
        covered_to = max(covered_to, t)
    return int(total * rate) + len(targets)
