"""The isolated decoder's child, appending one line per decode request to the file
named by VIDRAY_TEST_DECODE_LOG: lets a test count how often a video is decoded, and
see how it arrived (``bytes`` inline, or a ``ref`` opened here) and the spans asked
of it in that one pass."""

import hashlib
import os
from typing import Any

from tests.helpers import video_bytes
from vidray.io import storage
from vidray.media import decode, isolate


def handle(data: bytes | storage.FileRef, **kwargs: Any) -> Any:
    kind = "ref" if isinstance(data, storage.FileRef) else "bytes"
    try:
        digest = hashlib.sha256(video_bytes(data)).hexdigest()
    except FileNotFoundError:
        digest = "missing"
    spans = " ".join(str((c.start, c.end)) for c in kwargs["clips"])
    with open(os.environ["VIDRAY_TEST_DECODE_LOG"], "a") as log:
        log.write(f"{kind} {digest} {spans}\n")
    return decode.sample_clips(data, **kwargs)


if __name__ == "__main__":
    isolate.serve(handle)
