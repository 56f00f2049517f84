"""LLaVA-Video-178K: multi-turn captions, open-ended and multiple-choice QA, per subset."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.text import dialogue_pairs, require
from vidray.sources.videos import VIDEO_SUFFIXES

#: The LLaVA-Hound part: ShareGPTVideo's QA and captions over its frame folders.
HOUND = "llava_hound"


class LlavaVideo(AnnotationSource):
    """One row per (human, gpt) pair of every record of every annotation file the
    hub's configs list (the dataset card's ``configs``): per subset folder the caption
    files (``<subset>/*cap*.json``), the open-ended QA files (``*oe*.json``; the recipe
    skipped them) and the multiple-choice QA files (``*mc*.json``), and
    ``llava_hound/sharegptvideo_qa_255k_processed.json`` (LLaVA-Hound's 240k QA and
    15k captions). Any other ``.json``/``.jsonl``/``.csv``/``.parquet`` beside them
    (the hub's parquet copy of a caption file, say) is not read and is named in the
    run's summary and ``_SUCCESS.skipped_files``.

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
    - ``llava_hound``: its videos are ShareGPTVideo's ``train_300k`` frame folders
      (the card points there), JPEGs at 2 fps, the rate LLaVA-NeXT's ``train.py``
      assumes for ``shareVideoGPTV`` paths. A ``video`` without a video suffix is such
      a folder, ``INPUT/llava_hound/<video>/`` like any subset's video; one with a
      suffix (frames re-encoded) is read as a video file. (?) The exact form of
      ``video`` in that file is not confirmed from a primary file (it is 108 MB on the
      hub); LLaVA-NeXT-based loaders extract ``train_300k`` to
      ``llava_hound/shareVideoGPTV/frames/all_frames/``.
    - All pairs of one record (and all records of one video in one file) share the
      video: ``--qa-mode multiturn`` restores the dialogue as one row, whose id is
      ``<annotation file>#<subset>/<video>``.
    """

    name = "llava-video"
    layout = (
        "INPUT/<subset>/{*cap*,*oe*,*mc*}.json, INPUT/llava_hound/"
        "sharegptvideo_qa_255k_processed.json  [{id?, data_source, video, conversations: "
        "[{from: human|gpt, value}]}]; videos: INPUT/<subset>/<video> (the subset's "
        "videos_N.tar.gz extracted in place; llava_hound: train_300k frame folders, 2 fps, "
        "the form of its video (?) unconfirmed); files not read are listed in _SUCCESS"
    )
    # One folder deep: the subsets' extracted videos (about 1.6M files) sit in the same
    # folders, and the base lists no deeper than a pattern reaches.
    annotation_files = {
        "train": (
            "*/*cap*.json",
            "*/*oe*.json",
            "*/*mc*.json",
            f"{HOUND}/sharegptvideo_qa_255k_processed.json",
        )
    }
    videos_dir = ""
    frames_fps = 2.0

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        video = require(record, "video")
        pairs = dialogue_pairs(record.get("conversations"))
        subset = posixpath.dirname(unit)
        path = posixpath.join(subset, video.lstrip("/")) if subset else video
        stem = posixpath.basename(unit).removesuffix(".json")
        frames = subset == HOUND and not video.lower().endswith(VIDEO_SUFFIXES)
        media = "frames" if frames else None
        for p, (question, answer) in enumerate(pairs):
            yield Item.single(f"{stem}#{key}:{p}", path, question, answer, media=media)
