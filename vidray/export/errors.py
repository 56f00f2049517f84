"""The one error of ``vidray export``."""

from __future__ import annotations


class ExportError(Exception):
    """The export cannot be done or did not validate; the message is one line."""
