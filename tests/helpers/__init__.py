"""What the tests run besides tests: decoder child processes, the fault proxy, layout
and fixture-dataset builders."""

from __future__ import annotations

from vidray.io import storage


def video_bytes(data: bytes | storage.FileRef) -> bytes:
    """The bytes of the video a decoder child was handed: inline, or read from where a
    reference names them (a local tar's members travel by reference)."""
    if isinstance(data, storage.FileRef):
        with data.open() as f:
            return f.read()
    return data
