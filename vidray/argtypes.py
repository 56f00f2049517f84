"""argparse types whose errors say what was expected and what was given:
``--num-frames must be a whole number >= 1, got 'abc'``."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def _number(kind: type, what: str, ok: Callable[[Any], bool]) -> Callable[[str], Any]:
    """A type: ``kind`` parsed from the text, then checked by ``ok``."""
    expected = ("a whole number" if kind is int else "a number") + (f" {what}" if what else "")

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or (kind is float and not math.isfinite(value)) or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


positive_int = _number(int, ">= 1", lambda v: v >= 1)
positive_float = _number(float, "> 0", lambda v: v > 0)
non_negative_float = _number(float, ">= 0", lambda v: v >= 0)
jpeg_quality = _number(int, "in 1..100", lambda v: 1 <= v <= 100)
whole_number = _number(int, "", lambda v: True)
