"""A sample's frames as the trainer asks for them."""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np

FrameMode = Literal["pil", "numpy", "jpeg"]
FRAME_MODES: tuple[str, ...] = ("pil", "numpy", "jpeg")


def decode_frames(frames: list[bytes], mode: str) -> list[Any]:
    """JPEG bytes as they are (``jpeg``), as RGB ``PIL.Image``s (``pil``) or as
    ``HxWx3`` uint8 arrays (``numpy``)."""
    if mode == "jpeg":
        return list(frames)
    from PIL import Image

    images = []
    for data in frames:
        with Image.open(io.BytesIO(data)) as im:
            rgb = im.convert("RGB")
        images.append(np.asarray(rgb) if mode == "numpy" else rgb)
    return images
