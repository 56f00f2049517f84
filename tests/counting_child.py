"""The isolated decoder's child, appending one line per decode request to the file
named by VIDRAY_TEST_DECODE_LOG: lets a test count how often a video is decoded."""

import hashlib
import os
from typing import Any

from vidray.media import decode, isolate


def handle(data: bytes, **kwargs: Any) -> Any:
    with open(os.environ["VIDRAY_TEST_DECODE_LOG"], "a") as log:
        log.write(f"{hashlib.sha256(data).hexdigest()} {kwargs['clip']}\n")
    return decode.sample_video(data, **kwargs)


if __name__ == "__main__":
    isolate.serve(handle)
