"""FineVideo (HuggingFaceFV/finevideo): ``data/*.parquet`` with ``mp4`` and ``json``."""

from __future__ import annotations

from typing import Any

from vidray.records import Conversation
from vidray.sources.base import BadAnnotation
from vidray.sources.shards import ParquetShardSource
from vidray.sources.text import require_text, single_turn


class FineVideo(ParquetShardSource):
    """One conversation per ``json.content_metadata.qAndA`` item; the video is
    decoded once for all of them. Row ids are ``<video id>:<item index>``."""

    name = "finevideo"
    layout = "INPUT/data/*.parquet  columns mp4 (binary) + json (content_metadata.qAndA)"
    subdir = "data"
    video_column = "mp4"
    meta_columns = ("json",)

    def conversations(self, sample_id: str, row: dict[str, Any]) -> list[Conversation]:
        meta = row.get("json")
        if not isinstance(meta, dict):
            raise BadAnnotation("json is missing")
        qa = (meta.get("content_metadata") or {}).get("qAndA")
        if not isinstance(qa, list) or not qa:
            raise BadAnnotation("content_metadata.qAndA is missing or empty")
        out = []
        for k, item in enumerate(qa):
            if not isinstance(item, dict):
                raise BadAnnotation(f"qAndA[{k}] is not an object")
            q = require_text(item.get("question"), f"qAndA[{k}].question")
            a = require_text(item.get("answer"), f"qAndA[{k}].answer")
            out.append(single_turn(f"{sample_id}:{k}", q, a))
        return out
