"""Decoders built by name: above the seam (``vidray.media.decoder``) and its
implementations (``cpu``, ``nvdec``), so the seam imports none of them. The names a
run may ask for are ``vidray.media.registry``'s."""

from __future__ import annotations

from collections.abc import Callable

from vidray.media.decoder import Decoder

#: The decoders by name: a factory taking keyword-only options. ``register`` adds
#: one (the tests' failing GPU decoder does).
_FACTORIES: dict[str, Callable[..., Decoder]] = {}


def register(name: str, factory: Callable[..., Decoder]) -> None:
    _FACTORIES[name] = factory


def names() -> tuple[str, ...]:
    return ("cpu", "nvdec", *sorted(set(_FACTORIES) - {"cpu", "nvdec"}))


def get(name: str = "cpu", *, threads: int = 1) -> Decoder:
    """The decoder called ``name``, constructed with keyword-only options."""
    if name not in names():
        raise ValueError(f"decoder must be one of {', '.join(names())}, got {name!r}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if name in _FACTORIES:
        return _FACTORIES[name](threads=threads)
    if name == "nvdec":
        from vidray.media.nvdec import NvdecDecoder  # needs torch and torchvision

        return NvdecDecoder()
    from vidray.media.cpu import CpuDecoder

    return CpuDecoder(threads=threads)
