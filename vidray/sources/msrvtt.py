"""MSR-VTT: twenty captions per clip, in the retrieval splits (9k train, 1k-A test)."""

from __future__ import annotations

import csv
import io
import posixpath
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from vidray.io import storage
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation
from vidray.sources.text import require, require_text

TRAIN_9K = "MSRVTT_train.9k.csv"


class Msrvtt(AnnotationSource):
    """One caption row per (clip, sentence): the human turn is the seeded caption
    instruction, the gpt turn the sentence, the whole clip.

    Splits: ``train`` is every sentence of the 9k retrieval split when
    ``MSRVTT_train.9k.csv`` lies next to ``MSRVTT_data.json`` (else the JSON's own
    ``split == "train"`` clips); ``val`` the JSON's ``validate`` clips (they are part
    of the 9k list, so do not add them to a 9k train run); ``test`` the 1k-A
    ``MSRVTT_JSFUSION_test.csv``, one sentence per clip. The JSON's ``start time`` /
    ``end time`` place the clip inside its YouTube source: the clip files are cut
    already, so no span is applied."""

    name = "msrvtt"
    layout = (
        "INPUT/MSRVTT_data.json {videos: [{video_id, split}], sentences: [{caption, video_id, "
        "sen_id}]} + MSRVTT_train.9k.csv [video_id] (train), MSRVTT_JSFUSION_test.csv "
        "[key, vid_key, video_id, sentence] (test); videos: INPUT/videos/all/<video_id>.mp4"
    )
    companion_files = (TRAIN_9K,)
    annotation_files = {
        "train": ("MSRVTT_data.json",),
        "val": ("MSRVTT_data.json",),
        "test": ("MSRVTT_JSFUSION_test.csv",),
    }
    videos_dir = "videos/all"
    #: The JSON's ``split`` value of each split read from it.
    json_splits: ClassVar[dict[str, tuple[str, ...]]] = {
        "train": ("train",),
        "val": ("validate", "val"),
    }

    def records(self, loc: storage.Location, unit: str) -> Iterator[tuple[str, Any]]:
        if not unit.endswith(".json"):
            yield from super().records(loc, unit)
            return
        try:
            doc = self.read_json(loc, unit)
        except BadAnnotation as e:
            yield "", e
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("sentences"), list):
            yield "", BadAnnotation("no 'sentences' list at the top level")
            return
        keep = self._clips(loc, unit, doc)
        for index, sentence in enumerate(doc["sentences"]):
            clip = sentence.get("video_id") if isinstance(sentence, dict) else None
            # a sentence naming no clip belongs to no known split: shown, not dropped
            if clip in keep or not isinstance(clip, str):
                yield str(index), sentence

    def _clips(self, loc: storage.Location, unit: str, doc: dict[str, Any]) -> set[str]:
        """The clip ids of the run's split."""
        split = self.split()
        if split == "train":
            listed = posixpath.join(posixpath.dirname(unit), TRAIN_9K)
            if storage.exists(loc, listed):
                with storage.open_read(loc, listed) as f:
                    rows = csv.DictReader(io.TextIOWrapper(f, encoding="utf-8-sig"))
                    return {r["video_id"].strip() for r in rows if r.get("video_id")}
        videos = doc.get("videos")
        wanted = self.json_splits[split]
        return {
            v["video_id"]
            for v in (videos if isinstance(videos, list) else [])
            if isinstance(v, dict) and v.get("split") in wanted and "video_id" in v
        }

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        clip = require(record, "video_id")
        if unit.endswith(".csv"):
            caption = require_text(record.get("sentence"), "sentence")
            ref = (record.get("key") or "").strip() or key
        else:
            caption = require_text(record.get("caption"), "caption")
            sen_id = record.get("sen_id")
            ref = str(sen_id) if isinstance(sen_id, int | str) and str(sen_id) else key
        row = f"{clip}:{ref}"
        instruction = self.ctx.instruction(self.sample_id(row))
        yield Item.single(row, f"{clip}.mp4", instruction, caption)
