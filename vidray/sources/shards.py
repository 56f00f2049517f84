"""Shard sources: tar or parquet shards that carry each video next to its annotation,
read here once for every such dataset."""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

from vidray.io import shards, storage
from vidray.records import Conversation, Sample
from vidray.schema import Reason
from vidray.sources.base import BadAnnotation, Source

#: A tar member video above this size is not carried in its sample: the decoder
#: process reads it from the tar by byte ranges (web clips are a few MiB; a long
#: video in a tar would otherwise sit whole in the read task, the unit and the pipe).
TAR_INLINE_BYTES = 16 * 2**20
#: The same limit for a shard on local disk (or a mount every node sees): none. The
#: decoder process reads each member where it lies, one read of the page cache, instead
#: of its bytes being copied through the read task, Ray's object store, the convert task
#: and the pipe: about 7 ms of CPU less per 250 KB web clip, and 1.15x the clips/s
#: (``benchmarks/README.md``). From S3 the read task streams the shard, and a small member
#: travels in its sample, since reading it by range would cost an S3 request of its own.
LOCAL_INLINE_BYTES = 0


def inline_limit(loc: storage.Location) -> int:
    """Tar member videos up to this many bytes travel in their sample; larger ones are
    read by the decoder process from the tar by range."""
    return LOCAL_INLINE_BYTES if loc.scheme == "file" else TAR_INLINE_BYTES


class TarShardSource(Source):
    """WebDataset-style tar shards: ``<key>.<video_ext>`` next to ``<key>.<meta_ext>``."""

    video_ext: ClassVar[str] = "mp4"
    meta_ext: ClassVar[str] = "json"

    @abstractmethod
    def conversations(self, sample_id: str, meta: dict[str, Any]) -> list[Conversation]:
        """The conversations of one annotation; raise ``BadAnnotation`` when malformed."""

    def units(self, loc: storage.Location) -> list[str]:
        return storage.list_files(loc, (".tar",))

    def is_unit(self, rel: str) -> bool:
        return rel.lower().endswith(".tar")

    def count(self, loc: storage.Location, unit: str, cap: int) -> int:
        with storage.open_read(loc, unit) as f:
            return shards.count_tar_keys(f, cap)

    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        exts = {self.video_ext, self.meta_ext}
        with storage.open_read(loc, unit) as f:
            by_range = (self.video_ext, inline_limit(loc))
            for group in shards.iter_tar_groups(f, exts, by_range):
                yield self._sample(loc, unit, group)

    def _sample(self, loc: storage.Location, unit: str, group: shards.TarGroup) -> Sample:
        ref = shards.member_ref(unit, f"{group.key}.{self.video_ext}")
        sid = self.sample_id(ref)
        if self.video_ext in group.rejected or self.meta_ext in group.rejected:
            reason = group.rejected.get(self.video_ext) or group.rejected[self.meta_ext]
            return Sample(sid, ref, error=(Reason.BAD_MEMBER, reason))
        has_video = self.video_ext in group.files or self.video_ext in group.ranges
        has_meta = self.meta_ext in group.files
        if not has_video and not has_meta:
            found = ", ".join(f"{group.key}.{ext}" for ext in sorted(group.files))
            return Sample(sid, ref, error=(Reason.BAD_MEMBER, f"unexpected member(s) {found}"))
        if not has_meta:
            return Sample(sid, ref, error=(Reason.MISSING_ANNOTATION, f"no {group.key}.json"))
        if not has_video:
            return Sample(sid, ref, error=(Reason.MISSING_VIDEO, f"no {group.key}.mp4"))
        try:
            meta = json.loads(group.files[self.meta_ext])
            if not isinstance(meta, dict):
                raise BadAnnotation("annotation is not a JSON object")
            convs = self.conversations(sid, meta)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return Sample(sid, ref, error=(Reason.BAD_ANNOTATION, f"invalid JSON: {e}"))
        except BadAnnotation as e:
            return Sample(sid, ref, error=(Reason.BAD_ANNOTATION, str(e)))
        if self.video_ext in group.ranges:
            offset, size = group.ranges[self.video_ext]
            member = storage.FileRef(loc.uri, unit, offset, size)
            weight = size if size <= TAR_INLINE_BYTES else 0  # as if inline, from S3
            return Sample(sid, ref, conversations=convs, ref=member, weight=weight)
        return Sample(sid, ref, data=group.files[self.video_ext], conversations=convs)


class ParquetShardSource(Source):
    """Parquet shards whose rows carry the video bytes next to their annotation."""

    subdir: ClassVar[str] = ""
    video_column: ClassVar[str]
    meta_columns: ClassVar[tuple[str, ...]]

    @abstractmethod
    def conversations(self, sample_id: str, row: dict[str, Any]) -> list[Conversation]:
        """The conversations of one row; raise ``BadAnnotation`` when malformed."""

    cheap_count = True

    def units(self, loc: storage.Location) -> list[str]:
        return storage.list_files(loc, (".parquet",), self.subdir)

    def is_unit(self, rel: str) -> bool:
        inside = not self.subdir or rel.startswith(self.subdir.rstrip("/") + "/")
        return inside and rel.lower().endswith(".parquet")

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
                    yield Sample(sid, ref, error=(Reason.BAD_ANNOTATION, str(e)))
                    continue
                data = row[self.video_column]
                if not data:
                    yield Sample(sid, ref, error=(Reason.MISSING_VIDEO, "empty video cell"))
                    continue
                yield Sample(sid, ref, data=data, conversations=convs)
