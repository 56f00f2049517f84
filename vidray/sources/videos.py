"""Finding videos by name in a videos root: the suffixes vidray knows, the error when a
video is absent, and the stem index built from one listing of the root."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from vidray.io import storage

#: Matched in any case (``.MP4``). Besides the common containers, the raw uploads some
#: datasets keep (DiDeMo's Flickr files: ``.3gp``, ``.wmv``, ...), all read by FFmpeg.
VIDEO_SUFFIXES = (
    ".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".gif", ".mpg", ".mpeg",
    ".3gp", ".3g2", ".wmv", ".asf", ".flv", ".ogv", ".mts", ".m2ts", ".vob",
)  # fmt: skip
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class MissingVideo(Exception):
    """Raised by ``resolve``: the item's video is not in the videos root."""

    def __init__(self, video: str, message: str | None = None) -> None:
        super().__init__(
            message or f"no video named {video!r} (any of {', '.join(VIDEO_SUFFIXES)})"
        )
        self.video = video


def index_by_stem(videos: storage.Location) -> dict[str, str]:
    """Video file stem -> relative path, from one recursive listing. On a clash the
    first path in sorted order wins, so the choice is stable."""
    index: dict[str, str] = {}
    for rel in storage.list_files(videos, VIDEO_SUFFIXES):
        index.setdefault(posixpath.splitext(posixpath.basename(rel))[0], rel)
    return index


def find_by_stem(index: dict[str, str], names: Iterable[str]) -> str | None:
    """The path in ``index`` (``index_by_stem``) of the first of ``names`` found, any
    video suffix; None when none is there."""
    for name in names:
        # The name as a stem first (``x.avi`` saved as ``x.avi.mp4``), then without
        # its video suffix (``x.avi`` saved as ``x.mkv``).
        stems = [name, posixpath.splitext(name)[0]] if _has_video_suffix(name) else [name]
        found = next((index[s] for s in stems if s in index), None)
        if found is not None:
            return found
    return None


def _has_video_suffix(name: str) -> bool:
    return name.lower().endswith(VIDEO_SUFFIXES)
