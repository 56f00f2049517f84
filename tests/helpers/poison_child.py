"""The isolated decoder's child, with two poisons a real FFmpeg crash would stand for:
a video starting with ``CRASH`` aborts the process, one starting with ``HANG`` blocks."""

import os
import time
from typing import Any

from tests.helpers import video_bytes
from vidray.io import storage
from vidray.media import decode, isolate


def handle(data: bytes | storage.FileRef, **kwargs: Any) -> Any:
    head = video_bytes(data)[:5]
    if head.startswith(b"CRASH"):
        os.abort()
    if head.startswith(b"HANG"):
        time.sleep(3600)
    return decode.sample_clips(data, **kwargs)


if __name__ == "__main__":
    isolate.serve(handle)
