"""What every source shares: the sample it yields, and shard reading done once.

A source is a small declarative adapter. It says where its annotations are (the
shard suffix and folder), which member or column holds the video, and how one
annotation becomes conversations. Reading, pairing, error handling and sharding
live here and in ``vidray.io``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from vidray import prompts
from vidray.io import shards, storage


class BadAnnotation(ValueError):
    """An annotation that cannot become a conversation; becomes a ``bad_annotation`` row."""


@dataclass(frozen=True)
class Conversation:
    """The text of one output row."""

    id: str
    turns: tuple[tuple[str, str], ...]  # (from, value)
    query: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "turns": [list(t) for t in self.turns], "query": self.query}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Conversation:
        return cls(d["id"], tuple((f, v) for f, v in d["turns"]), d["query"])


@dataclass
class Sample:
    """One video to decode with the conversations it carries, or an input error."""

    id: str
    video: str
    data: bytes | None = None
    conversations: list[Conversation] = field(default_factory=list)
    clip: tuple[float | None, float | None] = (None, None)
    error: tuple[str, str] | None = None  # (reason, message)


@dataclass(frozen=True)
class SourceContext:
    """What a source needs besides its input: the instruction pool and the seed."""

    prompts: tuple[str, ...] = prompts.BUILTIN_PROMPTS
    seed: int = 0

    def instruction(self, sample_id: str) -> str:
        return prompts.draw(self.prompts, sample_id, self.seed)


IMAGE_TOKEN = "<image>\n"


def single_turn(row_id: str, question: str, answer: str) -> Conversation:
    """The recipe's record: the human turn starts with ``<image>\\n``."""
    return Conversation(row_id, (("human", IMAGE_TOKEN + question), ("gpt", answer)), question)


def require_text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadAnnotation(f"{name} is missing or empty")
    return value.strip()


class Source(ABC):
    """A dataset adapter. Subclasses set ``name`` and ``layout`` and fill in a hook."""

    name: ClassVar[str]
    #: The input layout, as ``vidray sources`` shows it.
    layout: ClassVar[str]

    def __init__(self, ctx: SourceContext | None = None) -> None:
        self.ctx = ctx or SourceContext()

    @abstractmethod
    def units(self, loc: storage.Location) -> list[str]:
        """Relative paths of the input shards, sorted."""

    @abstractmethod
    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        """Every sample of ``unit``, in a fixed order; errors are samples too."""

    @abstractmethod
    def count(self, loc: storage.Location, unit: str, cap: int) -> int:
        """How many samples ``unit`` yields, up to ``cap`` (for ``--limit``)."""

    def sample_id(self, ref: str) -> str:
        return f"{self.name}:{ref}"


class TarShardSource(Source):
    """WebDataset-style tar shards: ``<key>.<video_ext>`` next to ``<key>.<meta_ext>``."""

    video_ext: ClassVar[str] = "mp4"
    meta_ext: ClassVar[str] = "json"

    @abstractmethod
    def conversations(self, sample_id: str, meta: dict[str, Any]) -> list[Conversation]:
        """The conversations of one annotation; raise ``BadAnnotation`` when malformed."""

    def units(self, loc: storage.Location) -> list[str]:
        return storage.list_files(loc, (".tar",))

    def count(self, loc: storage.Location, unit: str, cap: int) -> int:
        with storage.open_read(loc, unit) as f:
            return shards.count_tar_keys(f, cap)

    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        with storage.open_read(loc, unit) as f:
            for group in shards.iter_tar_groups(f, {self.video_ext, self.meta_ext}):
                yield self._sample(unit, group)

    def _sample(self, unit: str, group: shards.TarGroup) -> Sample:
        ref = shards.member_ref(unit, f"{group.key}.{self.video_ext}")
        sid = self.sample_id(ref)
        if self.video_ext in group.rejected or self.meta_ext in group.rejected:
            reason = group.rejected.get(self.video_ext) or group.rejected[self.meta_ext]
            return Sample(sid, ref, error=("bad_member", reason))
        has_video, has_meta = self.video_ext in group.files, self.meta_ext in group.files
        if not has_video and not has_meta:
            found = ", ".join(f"{group.key}.{ext}" for ext in sorted(group.files))
            return Sample(sid, ref, error=("bad_member", f"unexpected member(s) {found}"))
        if not has_meta:
            return Sample(sid, ref, error=("missing_annotation", f"no {group.key}.json"))
        if not has_video:
            return Sample(sid, ref, error=("missing_video", f"no {group.key}.mp4"))
        try:
            meta = json.loads(group.files[self.meta_ext])
            if not isinstance(meta, dict):
                raise BadAnnotation("annotation is not a JSON object")
            convs = self.conversations(sid, meta)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return Sample(sid, ref, error=("bad_annotation", f"invalid JSON: {e}"))
        except BadAnnotation as e:
            return Sample(sid, ref, error=("bad_annotation", str(e)))
        return Sample(sid, ref, data=group.files[self.video_ext], conversations=convs)


class ParquetShardSource(Source):
    """Parquet shards whose rows carry the video bytes next to their annotation."""

    subdir: ClassVar[str] = ""
    video_column: ClassVar[str]
    meta_columns: ClassVar[tuple[str, ...]]

    @abstractmethod
    def conversations(self, sample_id: str, row: dict[str, Any]) -> list[Conversation]:
        """The conversations of one row; raise ``BadAnnotation`` when malformed."""

    def units(self, loc: storage.Location) -> list[str]:
        return storage.list_files(loc, (".parquet",), self.subdir)

    def count(self, loc: storage.Location, unit: str, cap: int) -> int:
        with storage.open_read(loc, unit) as f:
            return min(cap, shards.parquet_num_rows(f))

    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        columns = [self.video_column, *self.meta_columns]
        with storage.open_read(loc, unit) as f:
            for index, row in shards.iter_parquet_rows(f, columns):
                ref = shards.member_ref(unit, str(index))
                sid = self.sample_id(ref)
                try:
                    convs = self.conversations(sid, row)
                except BadAnnotation as e:
                    yield Sample(sid, ref, error=("bad_annotation", str(e)))
                    continue
                data = row[self.video_column]
                if not data:
                    yield Sample(sid, ref, error=("missing_video", "empty video cell"))
                    continue
                yield Sample(sid, ref, data=data, conversations=convs)
