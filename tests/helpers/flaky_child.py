"""The isolated decoder's child, crashing on the videos whose sha256 is listed in
FLAKY_LIST: a stand-in for a transient fault (a storage permission fixed later)."""

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from tests.helpers import video_bytes
from vidray.io import storage
from vidray.media import decode, isolate

FLAKY_LIST = Path(tempfile.gettempdir()) / "vidray-test-flaky.txt"


def handle(data: bytes | storage.FileRef, **kwargs: Any) -> Any:
    listed = FLAKY_LIST.read_text().split() if FLAKY_LIST.exists() else []
    if hashlib.sha256(video_bytes(data)).hexdigest() in listed:
        os.abort()
    return decode.sample_clips(data, **kwargs)


if __name__ == "__main__":
    isolate.serve(handle)
