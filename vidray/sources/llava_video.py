"""LLaVA-Video-178K: multi-turn captions, open-ended and multiple-choice QA, per subset."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from vidray.sources.base import AnnotationSource, Item, dialogue_pairs, require


class LlavaVideo(AnnotationSource):
    """One row per (human, gpt) pair of every record of every subset folder: the
    caption files (``*_cap_processed.json``), the open-ended QA files
    (``*_oe_*qa_processed.json``; the recipe skipped them) and the multiple-choice QA
    files (``*_mc_*qa_processed.json``).

    - The human turn is the dataset's own text with its ``<image>`` token stripped; the
      row's ``query`` is that text. Caption records carry their own instruction, so no
      instruction is drawn. Multiple-choice turns already hold the options and the
      dataset's answer format ("Answer with the option's letter ..."; the gpt turn a
      letter or a lettered option): they are kept as written, not re-rendered with
      ``--mc-template``, since re-rendering would mean parsing free text.
    - ``id`` is the video's id (shared by every record of a video and by the cap, oe and
      mc files), and some records lack it, so it cannot key a row. The key is the
      annotation file's name, the record's index in it and the pair's index:
      ``<file stem>#<record>:<pair>``; the published files are fixed, so it is stable.
      A record without ``id`` is kept like any other.
    - ``video`` is relative to the subset folder holding the annotation file (its
      ``<subset>_videos_N.tar.gz`` are extracted there), so the videos root is INPUT
      and an item's video is ``<subset>/<video>``. ``--videos`` must point at a folder
      laid out the same way. ``data_source`` is not used to find the folder.
    - All pairs of one record (and all records of one video in one file) share the
      video: ``--qa-mode multiturn`` restores the dialogue as one row, whose id is
      ``<annotation file>#<subset>/<video>``.
    """

    name = "llava-video"
    layout = (
        "INPUT/<subset>/{*_cap_processed,*_oe_*qa_processed,*_mc_*qa_processed}.json  "
        "[{id?, data_source, video, conversations: [{from: human|gpt, value}]}]; "
        "videos: INPUT/<subset>/<video> (the subset's videos_N.tar.gz extracted in place)"
    )
    # One folder deep: the subsets' extracted videos (about 1.6M files) sit in the same
    # folders, and the base lists no deeper than a pattern reaches.
    annotation_files = {
        "train": (
            "*/*_cap_processed.json",
            "*/*_oe_*qa_processed.json",
            "*/*_mc_*qa_processed.json",
        )
    }
    videos_dir = ""

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        video = require(record, "video")
        pairs = dialogue_pairs(record.get("conversations"))
        subset = posixpath.dirname(unit)
        path = posixpath.join(subset, video.lstrip("/")) if subset else video
        stem = posixpath.basename(unit).removesuffix(".json")
        for p, (question, answer) in enumerate(pairs):
            yield Item.single(f"{stem}#{key}:{p}", path, question, answer)
