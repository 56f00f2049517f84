"""ShareGPTVideo (ShareGPTVideo/train_video_and_instruction): LLaVA-style jsonl over
folders of JPEG frames."""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable
from typing import Any

from vidray.io import storage
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import SourceContext
from vidray.sources.text import dialogue_pairs, require
from vidray.sources.videos import MissingVideo

_ROOT = "video_instruction/train"
#: The frame folders, in the order the recipe looks: a name in both is taken from 300k.
FRAME_ROOTS = ("train_300k", "train_600k")


class ShareGPTVideo(AnnotationSource):
    """One row per (human, gpt) pair of ``conversations``: the question with the
    dataset's ``<video>`` (and ``<image>``) tokens removed, the answer as written. With
    ``--qa-mode multiturn`` every pair on one video (within a file) becomes one
    conversation. The row's ``query`` is the question.

    The video is a folder of JPEG frames shot at 2 fps (``c01_0001.jpeg``, ...), in
    either of the two layouts the frames are found in:

    - chunked, as the hub stores them: ``train_300k/<video>/`` or
      ``train_600k/<video>/`` (their ``chunk_N.tar.gz`` extracted in place);
    - flat, as LLaVA-Hound-DPO's ``setup/setup_train_data.sh`` and
      ``setup_pretrain_data.sh`` extract every chunk of both into one
      ``$VIDEO_DATA_DIR/train`` (``video_data/train/<video>/``) and pass that folder
      as ``--video_folder``: give it with ``--videos video_data/train``.

    The videos root is INPUT unless ``--videos`` names another. A name in
    ``train_300k/`` wins over ``train_600k/``, which wins over a flat folder. The
    folders are looked up in one shallow listing of each root per run, not probed per
    record.

    Row ids are ``<file stem>/<id>`` (``#<k>`` added per pair when a record holds
    several): the file stem keeps them unique because the SFT mixture repeats records
    of the caption and QA files with their ids. A record without ``id`` is not dropped:
    its id is ``<file stem>#<line index>``.

    Splits: ``pretrain`` (``pretrain/video_*.jsonl``: the 900k captions), ``qa``
    (``qa/*.jsonl``: the 900k ChatGPT QA), ``sft`` (``sft/video_*.jsonl``: LLaVA-Hound's
    SFT mixture, records drawn from the other two) and ``train`` = pretrain + qa, all
    of the distinct data without the mixture's repeats. ``image_*.jsonl`` files are
    image instruction data and are not read.
    """

    name = "sharegptvideo"
    layout = (
        f"INPUT/{_ROOT}/{{pretrain/video_*,qa/*,sft/video_*}}.jsonl  {{id, video, "
        "conversations: [{from, value}]}; frames: INPUT/{train_300k,train_600k}/<video>/"
        "*.jpeg (2 fps), or flat <--videos>/<video>/ (LLaVA-Hound's video_data/train)"
    )
    annotation_files = {
        "train": (f"{_ROOT}/pretrain/video_*.jsonl", f"{_ROOT}/qa/*.jsonl"),
        "pretrain": (f"{_ROOT}/pretrain/video_*.jsonl",),
        "sft": (f"{_ROOT}/sft/video_*.jsonl",),
        "qa": (f"{_ROOT}/qa/*.jsonl",),
    }
    videos_dir = ""
    media = "frames"
    frames_fps = 2.0

    def __init__(self, ctx: SourceContext | None = None) -> None:
        super().__init__(ctx)
        #: frame folder name -> its path relative to the videos root, listed once.
        self._folders: dict[str, str] | None = None

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        video = require(record, "video")
        pairs = dialogue_pairs(record.get("conversations"))
        stem = posixpath.splitext(posixpath.basename(unit))[0]
        record_id = record.get("id")
        if isinstance(record_id, str | int) and str(record_id).strip():
            base = f"{stem}/{str(record_id).strip()}"
        else:
            base = f"{stem}#{key}"  # no id: the line number is the stable name
        for k, (question, answer) in enumerate(pairs):
            item_key = base if len(pairs) == 1 else f"{base}#{k}"
            yield Item.single(item_key, video, question, answer)

    def video_index(self, loc: storage.Location) -> dict[str, str] | None:
        return _index_folders(self.videos_location(loc))

    def use_video_index(self, index: dict[str, str]) -> None:
        self._folders = index

    def resolve(self, loc: storage.Location, item: Item) -> Item:
        if self._folders is None:
            self._folders = _index_folders(self.videos_location(loc))
        # ``video`` is a bare folder name; a path to it is tolerated.
        found = self._folders.get(posixpath.basename(item.video.rstrip("/")))
        if found is None:
            roots = " or ".join(f"{r}/" for r in FRAME_ROOTS)
            raise MissingVideo(
                item.video, f"no frame folder {item.video!r} under {roots} or the videos root"
            )
        return dataclasses.replace(item, video=found)


def _index_folders(videos: storage.Location) -> dict[str, str]:
    """Folder name -> its path under the videos root: ``<frames root>/<name>`` for the
    chunked layout, ``<name>`` for the flat one; from one shallow listing per root (the
    folders' frames are not listed: there are tens of millions)."""
    index: dict[str, str] = {}
    for root in FRAME_ROOTS:
        for name in storage.subfolders(videos, root):
            index.setdefault(name, f"{root}/{name}")
    for name in storage.subfolders(videos):
        if name not in FRAME_ROOTS:
            index.setdefault(name, name)
    return index
