"""The sample-level failure every media module raises: at the bottom of vidray.media,
imported by the seam (``decoder``), the sampling rules and the decoders alike."""

from __future__ import annotations

import re


class DecodeFailure(Exception):
    """A sample-level failure: becomes an error row with ``reason``, never a crash."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.reason, self.message))


_OBJECT_REPR = re.compile(r" ?<[\w.]+ object at 0x[0-9a-f]+>")


def pillow_error(e: BaseException) -> str:
    """Pillow's message without the object it names (``<_io.BytesIO object at 0x...>``
    differs run to run, and error rows must not)."""
    return _OBJECT_REPR.sub("", str(e)).rstrip()
