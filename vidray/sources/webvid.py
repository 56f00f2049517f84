"""WebVid (sailvideo/webvid10m): tar shards of ``<key>.mp4`` + ``<key>.json``."""

from __future__ import annotations

from typing import Any

from vidray.records import Conversation
from vidray.sources.shards import TarShardSource
from vidray.sources.text import require_text, single_turn


class WebVid(TarShardSource):
    """One caption conversation per clip.

    The caption is ``text`` stripped (some captions end in a literal newline); the
    human turn is an instruction drawn from the prompt pool, deterministic per sample
    id and seed. The JSON's ``fps``/``num_frames`` describe the stock source, not the
    336p re-encode, so vidray reads those facts from the stream instead.
    """

    name = "webvid"
    layout = "INPUT/*.tar  WebDataset shards: <key>.mp4 + <key>.json (caption in 'text')"

    def conversations(self, sample_id: str, meta: dict[str, Any]) -> list[Conversation]:
        caption = require_text(meta.get("text"), "text")
        return [single_turn(sample_id, self.ctx.instruction(sample_id), caption)]
