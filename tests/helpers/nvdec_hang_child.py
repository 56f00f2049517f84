"""The isolated decoder's child, on a make-believe GPU whose NVDEC never returns (a
hung hardware session): ``nvdec`` opens, then blocks; the CPU decodes as usual."""

import time
from typing import Any

from vidray.media import factory, isolate


class HungNvdec:
    name = "nvdec"

    def __init__(self, **_: Any) -> None:
        pass

    def open(self, source: Any) -> Any:
        time.sleep(3600)
        raise AssertionError("unreachable")


if __name__ == "__main__":
    factory.register("nvdec", HungNvdec)
    isolate.serve()
