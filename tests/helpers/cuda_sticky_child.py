"""The isolated decoder's child, on a make-believe GPU (the CPU decoder under the name
``nvdec``) that hits a sticky CUDA error on the videos whose sha256 is listed in the
file ``$VIDRAY_TEST_STICKY``: from then on every GPU decode in this process fails the
same way, as CUDA reports a lost context to every later call."""

import hashlib
import os
from pathlib import Path
from typing import Any

from vidray.media import factory, isolate
from vidray.media.cpu import CpuDecoder

STICKY = "CUDA error: an illegal memory access was encountered"
_lost = False


class StickyNvdec:
    name = "nvdec"

    def __init__(self, **_: Any) -> None:
        pass

    def open(self, source: Any) -> Any:
        global _lost
        data = source if isinstance(source, bytes) else source.read()
        listed = Path(os.environ["VIDRAY_TEST_STICKY"]).read_text().split()
        if _lost or hashlib.sha256(data).hexdigest() in listed:
            _lost = True
            raise RuntimeError(STICKY)
        return CpuDecoder().open(data)


if __name__ == "__main__":
    factory.register("nvdec", StickyNvdec)
    isolate.serve()
