"""InternVid (OpenGVLab/InternVid): ``InternVid-10M-flt.jsonl`` + user-downloaded videos."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Any

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require, require_text

#: ``SS``, ``MM:SS`` or ``HH:MM:SS``, each with an optional fraction on the last part.
_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)$")


def timestamp(value: Any, name: str) -> float:
    """``"HH:MM:SS.mmm"`` (or ``MM:SS``, ``SS``, or a plain number) in seconds, with its
    milliseconds: the recipe dropped them and so cut every clip up to a second short."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _TIME.match(value.strip())):
        first, second, last = m.groups()
        # With two colons the groups are (HH, MM, SS); with one they are (MM, -, SS).
        hours, minutes = (first, second) if second is not None else (None, first)
        seconds = float(last) + 60 * int(minutes or 0) + 3600 * int(hours or 0)
    else:
        raise BadAnnotation(f"{name!r} is not a HH:MM:SS.mmm timestamp: {value!r}")
    if not 0 <= seconds < float("inf"):
        raise BadAnnotation(f"{name!r} is out of range: {value!r}")
    return seconds


class InternVid(AnnotationSource):
    """One caption conversation per clip line: the span ``[Start_timestamp,
    End_timestamp]`` of the downloaded YouTube video ``YoutubeID`` (found by name, any
    extension, anywhere under the videos root) is sampled; no clip file is cut.

    The human turn is an instruction drawn from the prompt pool (deterministic per row
    id and seed), the gpt turn the ``Caption``. Row ids are ``<file stem>/<YoutubeID>@
    <start>-<end>`` with times in seconds to the millisecond: the file stem keeps ids
    unique when several releases (``-flt``, ``-DIV``, ...) that share clips sit side by
    side. A clip listed twice in one file would repeat its id; the published files list
    each clip once. Every ``*.jsonl`` at INPUT's root is read; the files are
    line-oriented and huge, so only consecutive lines are grouped into one sample.
    """

    name = "internvid"
    layout = (
        "INPUT/*.jsonl (e.g. InternVid-10M-flt.jsonl)  {YoutubeID, Start_timestamp, "
        "End_timestamp, Caption}; videos: INPUT/videos/**/<YoutubeID>.<any video ext>"
    )
    annotation_files = {"train": ("*.jsonl",)}
    find_videos_by_stem = True
    group_consecutive = True

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        video = require(record, "YoutubeID")
        start = timestamp(record.get("Start_timestamp"), "Start_timestamp")
        end = timestamp(record.get("End_timestamp"), "End_timestamp")
        if end <= start:
            raise BadAnnotation(f"the clip ends ({end:g} s) before it starts ({start:g} s)")
        caption = require_text(record.get("Caption"), "Caption")
        stem = posixpath.splitext(posixpath.basename(unit))[0]
        clip_key = f"{stem}/{video}@{start:.3f}-{end:.3f}"
        instruction = self.ctx.instruction(self.sample_id(clip_key))
        yield Item.single(clip_key, video, instruction, caption, span=(start, end))
