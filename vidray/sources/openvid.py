"""OpenVid-1M (nkp37/OpenVid-1M): ``data/train/OpenVid-1M.csv`` + ``video_folder/``."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.text import require, require_text
from vidray.sources.videos import VIDEO_SUFFIXES


class OpenVid(AnnotationSource):
    """One caption conversation per CSV row: the human turn is an instruction drawn
    from the prompt pool (deterministic per row id and seed), the gpt turn ``caption``.

    ``video`` already names the file (``celebv_--Jiv5iYqT8_0.mp4``): it is used as is
    (the recipe appended a second ``.mp4``); a name without a video extension gets
    ``.mp4``. Row ids are the name without its extension. Split ``hd`` reads
    ``OpenVidHD.csv``, a subset of the 1M clips: its rows carry the same ids as in
    ``train``. The recipe unzips every part flat (``unzip -j``) into ``video_folder/``;
    give ``--videos`` where the HD parts were unzipped elsewhere. Only ``video`` and
    ``caption`` are read; the score columns (names with spaces) are left alone.
    """

    name = "openvid"
    layout = (
        "INPUT/data/train/{OpenVid-1M,OpenVidHD}.csv  columns video (file name), caption, "
        "'aesthetic score', ...; videos: INPUT/video_folder/<video>"
    )
    annotation_files = {
        "train": ("data/train/OpenVid-1M.csv",),
        "hd": ("data/train/OpenVidHD.csv",),
    }
    videos_dir = "video_folder"

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        video = require(record, "video")
        caption = require_text(record.get("caption"), "caption")
        stem, ext = posixpath.splitext(video)
        if ext.lower() not in VIDEO_SUFFIXES:
            stem, video = video, f"{video}.mp4"
        instruction = self.ctx.instruction(self.sample_id(stem))
        yield Item.single(stem, video, instruction, caption)
