"""The isolated decoder's child, on a make-believe GPU whose NVDEC fails on every
video: the decoder process is told it has a GPU, and ``nvdec`` opens nothing."""

from typing import Any

from vidray.media import decode, factory, isolate


class BrokenNvdec:
    name = "nvdec"

    def __init__(self, **_: Any) -> None:
        pass

    def open(self, source: Any) -> Any:
        raise RuntimeError("injected NVDEC failure")


def handle(data: Any, **kwargs: Any) -> Any:
    return decode.sample_clips(data, **{**kwargs, "gpu": True})


if __name__ == "__main__":
    factory.register("nvdec", BrokenNvdec)
    isolate.serve(handle)
