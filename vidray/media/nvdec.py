"""The GPU decoder: NVDEC through PyAV's CUDA hwaccel, then colour conversion, resize,
rotation and JPEG (nvJPEG) on the GPU with torch and torchvision.

Frames are chosen exactly as on the CPU (the same packet-level logic: keyframe-index
seeks, non-reference frames skipped); only decoding and the pixels' path differ. A
decoded frame stays in GPU memory (NV12, or P010 for 10-bit), is converted to RGB
there (BT.709 for HD, BT.601 below, limited range unless the stream says full),
resized with antialiasing, turned, and encoded by ``torchvision.io.encode_jpeg`` on
the CUDA tensor: it crosses to host memory only as JPEG bytes. Needs the ``gpu`` extra
(torch, torchvision) and an NVIDIA GPU; ``vidray.media.decode`` falls back to the CPU
for any video this decoder cannot take or fails on.
"""

from __future__ import annotations

from typing import IO, Any

import av

from vidray.media.cpu import CpuVideo


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
        from av.codec.hwaccel import HWAccel

        hw = HWAccel(device_type="cuda", device=str(device), allow_software_fallback=False)
        super().__init__(source, threads=1, hwaccel=hw)
        self._device = device

    def encode(
        self, frame: av.VideoFrame, size: tuple[int, int], quality: int, *, rotation: int
    ) -> bytes:
        import torch
        import torchvision.io

        rgb = _rgb(frame, self._device)  # (3, H, W) uint8 on the GPU
        width, height = size
        if rgb.shape[1:] != (height, width):
            scaled = torch.nn.functional.interpolate(
                rgb[None].float(), size=(height, width), mode="bilinear", antialias=True
            )
            rgb = scaled[0].round().clamp(0, 255).to(torch.uint8)
        if rotation:
            rgb = torch.rot90(rgb, k=rotation, dims=(1, 2)).contiguous()
        jpeg = torchvision.io.encode_jpeg(rgb, quality=quality)
        return bytes(jpeg.cpu().numpy().tobytes())


def _rgb(frame: av.VideoFrame, device: int) -> Any:
    """A CUDA frame (NV12 / P010) as an RGB uint8 tensor (3, H, W) on the GPU."""
    import torch

    if frame.format.name != "cuda":
        raise RuntimeError(f"NVDEC returned a {frame.format.name} frame, not a CUDA one")
    luma = torch.from_dlpack(frame.planes[0])
    chroma = torch.from_dlpack(frame.planes[1])
    high = luma.dtype != torch.uint8  # P010: 16-bit words, 10 significant high bits
    y = luma.float() / (65535.0 if high else 255.0)
    uv = chroma.float() / (65535.0 if high else 255.0)
    h, w = frame.height, frame.width
    y = y[:h, :w]
    uv = uv.reshape(uv.shape[0], -1, 2)[: (h + 1) // 2, : (w + 1) // 2]
    u = uv[..., 0].repeat_interleave(2, 0).repeat_interleave(2, 1)[:h, :w]
    v = uv[..., 1].repeat_interleave(2, 0).repeat_interleave(2, 1)[:h, :w]
    full = str(getattr(frame, "color_range", "")).lower() in {"2", "jpeg", "pc", "full"}
    if not full:
        y = (y - 16 / 255) * (255 / 219)
        u = (u - 128 / 255) * (255 / 224)
        v = (v - 128 / 255) * (255 / 224)
    else:
        u, v = u - 0.5, v - 0.5
    kr, kb = (0.2126, 0.0722) if h >= 720 else (0.299, 0.114)
    r = y + 2 * (1 - kr) * v
    b = y + 2 * (1 - kb) * u
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    rgb = torch.stack([r, g, b]).mul(255).round().clamp(0, 255).to(torch.uint8)
    return rgb.to(f"cuda:{device}")
