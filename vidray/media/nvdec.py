"""The GPU decoder: NVDEC through PyAV's CUDA hwaccel, then colour conversion, resize,
rotation and JPEG (nvJPEG) on the GPU with torch and torchvision.

Frames are chosen exactly as on the CPU (the same packet-level logic: keyframe-index
seeks, non-reference frames skipped); only decoding and the pixels' path differ. A
decoded frame stays in GPU memory (``is_hw_owned``: NV12, or P010 for 10-bit), its
planes are taken through DLPack, scaled in YUV as swscale does (an antialiased
triangle filter, luma and chroma each from its own grid), converted to RGB with the
matrix the frame is tagged with (BT.601 when untagged, as swscale), turned, and
encoded by ``torchvision.io.encode_jpeg`` on the CUDA tensor: it crosses to host
memory only as JPEG bytes.

The pixel path (``frame_rgb``) is written once over a small array namespace
(``Backend``): torch tensors on the GPU, numpy arrays from CPU DLPack planes in the
tests, so everything but the hardware decode and nvJPEG runs without a GPU. Needs the
``gpu`` extra (torch, torchvision) and an NVIDIA GPU to decode; ``vidray.media.decode``
falls back to the CPU for any video this decoder cannot take or fails on.
"""

from __future__ import annotations

import io
from typing import IO, Any

import av
import numpy as np

from vidray.media.cpu import CpuVideo

#: FFmpeg's AVColorSpace tags -> (Kr, Kb). 1: BT.709; 5, 6: BT.470BG / SMPTE 170M
#: (BT.601); 9, 10: BT.2020 (non-constant / constant luminance: the NCL matrix for
#: both). Anything else, untagged (2) included, is BT.601, as swscale takes it.
MATRICES: dict[int, tuple[float, float]] = {
    1: (0.2126, 0.0722),
    5: (0.299, 0.114),
    6: (0.299, 0.114),
    9: (0.2627, 0.0593),
    10: (0.2627, 0.0593),
}
BT601 = (0.299, 0.114)
#: AVColorRange: 2 is full ("JPEG") range.
FULL_RANGE = 2


def hwaccel(device: int) -> Any:
    """PyAV's hardware settings for NVDEC on GPU ``device``. ``is_hw_owned``: decoded
    frames stay in GPU memory (without it PyAV copies each one to host memory, as
    NV12) and FFmpeg uses the device's primary CUDA context (PyAV sets
    ``primary_ctx`` only then) instead of creating one per video."""
    from av.codec.hwaccel import HWAccel

    return HWAccel(
        device_type="cuda",
        device=str(device),
        allow_software_fallback=False,
        is_hw_owned=True,
    )


def export_plane(plane: Any) -> Any:
    """A frame plane's DLPack capsule, asked for with no stream: PyAV's
    ``VideoPlane.__dlpack__`` raises ``NotImplementedError`` for a CUDA plane given
    any stream, and ``torch.from_dlpack(plane)`` passes one for CUDA sources (it only
    retries without on ``TypeError``). torch and numpy take the capsule itself."""
    return plane.__dlpack__()


class _Capsule:
    """A DLPack capsule as the object numpy's ``from_dlpack`` takes (CPU only)."""

    def __init__(self, capsule: Any) -> None:
        self._capsule = capsule

    def __dlpack__(self, **_: Any) -> Any:
        return self._capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU


class Backend:
    """The array operations ``frame_rgb`` needs, on numpy arrays (CPU)."""

    name = "numpy"

    def from_capsule(self, capsule: Any) -> Any:
        return np.from_dlpack(_Capsule(capsule))

    def to_float(self, x: Any) -> Any:
        return x.astype(np.float32)

    def constant(self, array: np.ndarray, like: Any) -> Any:
        return array

    def stack(self, xs: list[Any]) -> Any:
        return np.stack(xs)

    def to_uint8(self, x: Any) -> Any:
        return np.clip(np.round(x), 0, 255).astype(np.uint8)

    def rot90(self, x: Any, k: int) -> Any:
        return np.ascontiguousarray(np.rot90(x, k=k, axes=(1, 2)))

    def jpeg(self, rgb: Any, quality: int) -> bytes:
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb.transpose(1, 2, 0))).save(
            out, format="JPEG", quality=quality
        )
        return out.getvalue()


class TorchBackend(Backend):
    """The same operations on torch tensors on GPU ``device``; JPEG by nvJPEG."""

    name = "torch"

    def __init__(self, device: int) -> None:
        import torch

        self.torch = torch
        self.device = torch.device("cuda", device)

    def from_capsule(self, capsule: Any) -> Any:
        return self.torch.from_dlpack(capsule)

    def to_float(self, x: Any) -> Any:
        return x.float()

    def constant(self, array: np.ndarray, like: Any) -> Any:
        return self.torch.as_tensor(array, device=like.device)

    def stack(self, xs: list[Any]) -> Any:
        return self.torch.stack(xs)

    def to_uint8(self, x: Any) -> Any:
        return x.round().clamp(0, 255).to(self.torch.uint8)

    def rot90(self, x: Any, k: int) -> Any:
        return self.torch.rot90(x, k=k, dims=(1, 2)).contiguous()

    def jpeg(self, rgb: Any, quality: int) -> bytes:
        import torchvision.io

        return bytes(torchvision.io.encode_jpeg(rgb, quality=quality).cpu().numpy().tobytes())


def resize_weights(n_in: int, n_out: int, *, sub: int = 1) -> np.ndarray:
    """(n_out, n_in) weights taking a row of ``n_in`` samples, each covering ``sub``
    output-grid pixels of the source (2 for 4:2:0 chroma), to ``n_out`` pixels: a
    triangle filter widened by the scale when shrinking (antialiased bilinear),
    centred sample siting, rows summing to 1. The identity when nothing changes."""
    scale = n_in / n_out  # source samples per output pixel
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale - 0.5
    d = np.abs(np.arange(n_in)[None, :] - centres[:, None]) / support
    w = np.clip(1.0 - d, 0.0, None)
    w /= w.sum(axis=1, keepdims=True)
    return w.astype(np.float32)


def _scaled(plane: Any, out: tuple[int, int], backend: Backend) -> Any:
    """A (rows, cols) float plane resampled to ``out`` (width, height)."""
    rows, cols = plane.shape
    width, height = out
    if (rows, cols) != (height, width):
        plane = backend.constant(resize_weights(rows, height), plane) @ plane
        plane = plane @ backend.constant(resize_weights(cols, width).T.copy(), plane)
    return plane


def frame_rgb(frame: av.VideoFrame, size: tuple[int, int], backend: Backend) -> Any:
    """An NV12 / P010 frame (a CUDA one, or a CPU one in tests) as RGB uint8 of shape
    (3, height, width) at ``size`` (width, height), on ``backend``'s device.

    The planes are scaled in YUV (luma from its grid, chroma from its half-size one),
    then converted by the frame's own matrix and range, as swscale does."""
    width, height = frame.width, frame.height
    if width % 2 or height % 2:
        # PyAV exports 4:2:0 chroma as (height // 2, width // 2): a column and a row
        # short of the picture (routing sends odd sizes to the CPU before this).
        raise ValueError(f"odd frame size {width}x{height}: NVDEC frames must be even")
    luma = backend.from_capsule(export_plane(frame.planes[0]))
    chroma = backend.from_capsule(export_plane(frame.planes[1]))
    if tuple(luma.shape) != (height, width) or tuple(chroma.shape) != (height // 2, width // 2, 2):
        raise ValueError(
            f"unexpected plane shapes {tuple(luma.shape)}, {tuple(chroma.shape)} "
            f"for a {width}x{height} frame"
        )
    high = luma.dtype.itemsize == 2  # P010: 16-bit words, 10 significant high bits
    full = int(frame.color_range) == FULL_RANGE
    # Codes on the 8-bit scale: P010's word / 256 is the 10-bit code / 4 (limited
    # range 64..940 -> 16..235); a full-range word / 257 spans 0..255.
    unit = (257.0 if full else 256.0) if high else 1.0
    y = _scaled(backend.to_float(luma), size, backend) / (unit * 255.0)
    u = _scaled(backend.to_float(chroma[..., 0]), size, backend) / (unit * 255.0)
    v = _scaled(backend.to_float(chroma[..., 1]), size, backend) / (unit * 255.0)
    if full:
        u, v = u - 128 / 255, v - 128 / 255
    else:
        y = (y - 16 / 255) * (255 / 219)
        u = (u - 128 / 255) * (255 / 224)
        v = (v - 128 / 255) * (255 / 224)
    kr, kb = MATRICES.get(int(frame.colorspace), BT601)
    r = y + 2 * (1 - kr) * v
    b = y + 2 * (1 - kb) * u
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return backend.to_uint8(backend.stack([r, g, b]) * 255.0)


def encode_frame(
    frame: av.VideoFrame,
    size: tuple[int, int],
    quality: int,
    *,
    rotation: int,
    backend: Backend,
) -> bytes:
    """One delivered frame as a JPEG: ``frame_rgb``, turned by ``rotation`` quarter
    turns counter-clockwise (as the CPU decoder turns), encoded on ``backend``."""
    rgb = frame_rgb(frame, size, backend)
    if rotation:
        rgb = backend.rot90(rgb, rotation)
    return backend.jpeg(rgb, quality)


class NvdecDecoder:
    name = "nvdec"

    def __init__(self, *, device: int = 0) -> None:
        import torch  # noqa: F401  (fail here, not mid-video, when the extra is missing)
        import torchvision.io  # noqa: F401

        self.device = device

    def open(self, source: bytes | IO[bytes]) -> NvdecVideo:
        return NvdecVideo(source, device=self.device)


class NvdecVideo(CpuVideo):
    def __init__(self, source: bytes | IO[bytes], *, device: int = 0) -> None:
        super().__init__(source, threads=1, hwaccel=hwaccel(device))
        self._backend = TorchBackend(device)

    def encode(
        self, frame: av.VideoFrame, size: tuple[int, int], quality: int, *, rotation: int
    ) -> bytes:
        if frame.format.name != "cuda":
            raise RuntimeError(f"NVDEC returned a {frame.format.name} frame, not a CUDA one")
        return encode_frame(frame, size, quality, rotation=rotation, backend=self._backend)
