"""Annotation sources: annotation files next to a folder of videos (the common layout).

A subclass declares its files per split and how one record becomes ``Item``s; reading
the files by type, grouping items per video and span, and finding the videos live here.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import io
import json
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, ClassVar, Literal

from vidray.io import shards, storage
from vidray.records import Conversation, Sample
from vidray.schema import Reason
from vidray.sources.base import BadAnnotation, BadSplit, Source, SourceContext
from vidray.sources.text import IMAGE_TOKEN, render_choice
from vidray.sources.videos import VIDEO_SUFFIXES, MissingVideo, find_by_stem, index_by_stem


@dataclass(frozen=True)
class Item:
    """One annotated question (or caption, or dialogue) on one video or span of it."""

    #: Unique within the source, stable across runs: becomes the row id after the
    #: source name. Use the dataset's own id where it has one.
    key: str
    #: The video, relative to the videos root (with ``find_videos_by_stem``: its name,
    #: any extension).
    video: str
    #: (question, answer) turns; the first question gets the media token.
    qa: tuple[tuple[str, str], ...]
    #: The row's ``query``: the instruction or the (first) question.
    query: str | None = None
    #: (start, end); an end of None runs to the end of the video.
    span: tuple[float, float | None] | None = None
    span_unit: Literal["s", "frame"] = "s"
    #: Set by the base when the video cannot be found (``MissingVideo``).
    error: str | None = None
    #: With ``find_videos_by_stem``: further names to try, in order, after ``video``
    #: (downloads saved under another name than the annotation's).
    names: tuple[str, ...] = ()
    #: ``frames``: ``video`` is a folder of frame images (``frames_fps``); ``image``:
    #: ``video`` is an image file, or ``images`` hold the images; None: the source's
    #: ``media``.
    media: Literal["video", "frames", "image"] | None = None
    #: Images carried in the annotation itself (M3IT's base64), already decoded.
    images: tuple[bytes, ...] = ()
    #: Classification sets: the class id and name of the image.
    label: int | None = None
    classname: str | None = None

    @classmethod
    def single(cls, key: str, video: str, question: str, answer: str, **kw: Any) -> Item:
        return cls(key, video, ((question, answer),), question, **kw)


def classification(key: str, image: str, label: int, classname: str) -> Item:
    """A classification row on an image: ``CLASS_QUESTION`` answered like a CLIP
    caption (``a photo of a {classname}.``), with the label and name kept."""
    answer = CLASS_PROMPT.format(classname)
    return Item.single(key, image, CLASS_QUESTION, answer, label=label, classname=classname)


ANNOTATION_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
#: The question of a classification row; its answer reads like a caption, as CoOp
#: prompts CLIP: ``a photo of a {classname}.``
CLASS_QUESTION = "What is in this photo?"
CLASS_PROMPT = "a photo of a {}."


class AnnotationSource(Source):
    """Annotation files next to a folder of videos (the common layout).

    A subclass declares its annotation files per split (``fnmatch`` patterns relative to
    INPUT), its default videos folder, and ``items(unit, key, record)``: how one
    annotation record becomes ``Item``s. Records are read by file type here (``.json``
    list or object, ``.jsonl``, ``.csv``, ``.parquet``); items on the same video and span
    are grouped into one sample, so the video is decoded once for all of them.
    """

    #: split -> annotation file patterns, relative to INPUT.
    annotation_files: ClassVar[dict[str, tuple[str, ...]]]
    #: Patterns of files read next to an annotation file (answers joined to questions,
    #: split lists): not units, and not reported as skipped.
    companion_files: ClassVar[tuple[str, ...]] = ()
    default_split: ClassVar[str] = "train"
    media_in_shards = False
    #: The videos folder relative to INPUT when ``--videos`` is not given; ``{split}``
    #: stands for the split (datasets that publish one video folder per split).
    videos_dir: ClassVar[str] = "videos"
    #: Other folders, relative to INPUT, used when ``videos_dir`` does not exist (the
    #: first that does); when none exists, ``videos_dir`` is named in the error.
    videos_dir_fallbacks: ClassVar[tuple[str, ...]] = ()
    #: Item videos are names without a known extension: find them by one listing of the
    #: videos root (any of ``VIDEO_SUFFIXES``), not by a probe per item.
    find_videos_by_stem: ClassVar[bool] = False
    #: Group only consecutive items (huge line-oriented files with one item per clip);
    #: otherwise items are grouped across the whole annotation file.
    group_consecutive: ClassVar[bool] = False
    #: The patterns of a split are alternatives, best first: only the files of the
    #: first pattern that matches any are read, the others are reported as skipped
    #: (the same annotations published in two forms, e.g. a generated copy).
    first_form_only: ClassVar[bool] = False

    def __init__(self, ctx: SourceContext | None = None) -> None:
        super().__init__(ctx)
        self._stems: dict[str, str] | None = None
        self._videos: storage.Location | None = None
        #: INPUT uri -> (annotation files of the split, files no split reads).
        self._scans: dict[str, tuple[list[str], list[str]]] = {}

    # -- what a subclass fills in

    @abstractmethod
    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        """The items of one record (``key``: its index or object key in ``unit``);
        raise ``BadAnnotation`` when it is malformed."""

    # -- shared machinery

    @classmethod
    def split_names(cls) -> tuple[str, ...]:
        return tuple(cls.annotation_files)

    def split(self) -> str:
        split = self.ctx.split or self.default_split
        if split not in self.annotation_files:
            known = ", ".join(sorted(self.annotation_files))
            raise BadSplit(f"{self.name} has no split {split!r}; its splits: {known}")
        return split

    def units(self, loc: storage.Location) -> list[str]:
        return self._scan(loc)[0]

    def skipped_units(self, loc: storage.Location) -> list[str]:
        """Annotation-type files (``.json``, ``.jsonl``, ``.csv``, ``.parquet``) where
        this source looks for annotations that no split of it reads: reported in the
        run's summary, so that nothing is left out unseen."""
        return self._scan(loc)[1]

    def _scan(self, loc: storage.Location) -> tuple[list[str], list[str]]:
        if loc.uri in self._scans:
            return self._scans[loc.uri]
        patterns = self.annotation_files[self.split()]
        every = {p for split in self.annotation_files.values() for p in split}
        known = set(self.companion_files)
        found: set[str] = set()
        skipped: set[str] = set()
        # List only below each pattern's fixed folder and no deeper than the pattern
        # reaches: annotation files often sit next to millions of extracted videos.
        for folder, depth in sorted({_listing_scope(p) for p in every}):
            for rel in storage.list_files(loc, ANNOTATION_SUFFIXES, folder, maxdepth=depth):
                if any(fnmatch.fnmatchcase(rel, p) for p in patterns):
                    found.add(rel)
                elif not any(fnmatch.fnmatchcase(rel, p) for p in every | known):
                    skipped.add(rel)
        if self.first_form_only and found:
            form = next(p for p in patterns if any(fnmatch.fnmatchcase(r, p) for r in found))
            other = {r for r in found if not fnmatch.fnmatchcase(r, form)}
            found, skipped = found - other, skipped | other
        self._scans[loc.uri] = (sorted(found), sorted(skipped))
        return self._scans[loc.uri]

    def is_unit(self, rel: str) -> bool:
        patterns = self.annotation_files[self.split()]
        return rel.lower().endswith(ANNOTATION_SUFFIXES) and any(
            fnmatch.fnmatchcase(rel, p) for p in patterns
        )

    def videos_location(self, loc: storage.Location) -> storage.Location:
        if self.ctx.videos:
            return storage.location(self.ctx.videos)
        if not self.videos_dir:
            return loc
        if self._videos is None:
            folders = [
                d.format(split=self.split()) for d in (self.videos_dir, *self.videos_dir_fallbacks)
            ]
            found = [storage.location(loc.uri.rstrip("/") + "/" + f) for f in folders]
            if len(found) > 1:
                found = [v for v in found if v.fs.isdir(v.path)] or found
            self._videos = found[0]
        return self._videos

    def count(self, loc: storage.Location, unit: str, cap: int) -> int:
        n = 0
        for _ in self.samples(loc, unit):
            n += 1
            if n >= cap:
                break
        return n

    def records(self, loc: storage.Location, unit: str) -> Iterator[tuple[str, Any]]:
        """(key, record) pairs of one annotation file, by its type. A record that cannot
        be parsed is yielded as a ``BadAnnotation`` instance."""
        with storage.open_read(loc, unit) as f:
            if unit.endswith(".parquet"):
                for index, row in shards.iter_parquet_rows(f, None, rows_per_read=1024):
                    yield str(index), row
                return
            text = io.TextIOWrapper(f, encoding="utf-8-sig")
            if unit.endswith(".jsonl"):
                for index, line in enumerate(text):
                    if not line.strip():
                        continue
                    try:
                        yield str(index), json.loads(line)
                    except json.JSONDecodeError as e:
                        yield str(index), BadAnnotation(f"line {index + 1}: invalid JSON: {e}")
            elif unit.endswith(".csv"):
                for index, row in enumerate(csv.DictReader(text)):
                    yield str(index), row
            else:
                try:
                    doc = _parse_json(text)
                except BadAnnotation as e:
                    yield "", e
                    return
                if isinstance(doc, list):
                    yield from ((str(i), r) for i, r in enumerate(doc))
                elif isinstance(doc, dict):
                    yield from doc.items()
                else:
                    yield "", BadAnnotation(f"a JSON {type(doc).__name__}, not a list or object")

    def read_json(self, loc: storage.Location, rel: str) -> Any:
        """The JSON document ``rel`` (an annotation file, or a file joined to one);
        ``BadAnnotation`` when it is not valid JSON."""
        with storage.open_read(loc, rel) as f:
            return _parse_json(io.TextIOWrapper(f, encoding="utf-8-sig"))

    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        groups: dict[tuple[Any, ...], list[Item] | Sample] = {}
        for key, record in self.records(loc, unit):
            ref = shards.member_ref(unit, key) if key else unit
            try:
                if isinstance(record, BadAnnotation):
                    raise record
                items = list(self.items(unit, key, record))
                if not items:
                    raise BadAnnotation("the record holds no question or caption")
            except BadAnnotation as e:
                sid = self.sample_id(ref)
                groups[("error", ref)] = Sample(sid, ref, error=(Reason.BAD_ANNOTATION, str(e)))
                continue
            for item in items:
                try:
                    item = self.resolve(loc, item)
                except MissingVideo as e:
                    # One error row per question of the absent video, each with its id.
                    missing = groups.setdefault(("missing", item.video), [])
                    assert isinstance(missing, list)
                    missing.append(dataclasses.replace(item, error=str(e)))
                    continue
                group = (item.video, item.span, item.span_unit, item.media)
                if self.group_consecutive and groups and group not in groups:
                    yield from (self._group_sample(unit, g) for g in groups.values())
                    groups.clear()
                members = groups.setdefault(group, [])
                assert isinstance(members, list)
                members.append(item)
        yield from (self._group_sample(unit, g) for g in groups.values())

    def resolve(self, loc: storage.Location, item: Item) -> Item:
        """The item with its video path relative to the videos root. Override for
        layouts that need a lookup; raise ``MissingVideo`` when it is absent."""
        if not self.find_videos_by_stem:
            return item
        tried = list(dict.fromkeys(self.video_names(item)))
        found = self.find_video(loc, tried)
        if found is None:
            names = " or ".join(repr(n) for n in tried)
            suffixes = ", ".join(VIDEO_SUFFIXES)
            raise MissingVideo(item.video, f"no video named {names} (any of {suffixes})")
        return dataclasses.replace(item, video=found)

    def video_index(self, loc: storage.Location) -> dict[str, str] | None:
        """The lookup table ``resolve`` builds from listing the videos root (None when
        the source resolves videos without one). The driver builds it once per job and
        hands it to every read task (``use_video_index``), so the root is listed once,
        not once per annotation file."""
        return index_by_stem(self.videos_location(loc)) if self.find_videos_by_stem else None

    def use_video_index(self, index: dict[str, str]) -> None:
        """Take the table ``video_index`` built, instead of listing the root again."""
        self._stems = index

    def find_video(self, loc: storage.Location, names: Iterable[str]) -> str | None:
        """The path, relative to the videos root, of the first of ``names`` found in one
        listing of the root (made once per source object), any video suffix; None when
        none is there."""
        if self._stems is None:
            self._stems = index_by_stem(self.videos_location(loc))
        return find_by_stem(self._stems, names)

    def video_names(self, item: Item) -> Iterable[str]:
        """With ``find_videos_by_stem``: the names to look for, best first (a known video
        suffix is ignored): ``video``, then the item's other ``names``."""
        return (item.video, *item.names)

    def _group_sample(self, unit: str, group: list[Item] | Sample) -> Sample:
        if isinstance(group, Sample):
            return group
        first = group[0]
        span = f"@{_fmt(first.span[0])}-{_fmt(first.span[1])}" if first.span else ""
        # Groups never span annotation files, so the file makes the id unique even when
        # several files (or splits) ask about the same video.
        sid = self.sample_id(shards.member_ref(unit, f"{first.video}{span}"))
        if self.ctx.qa_mode == "multiturn" and len(group) > 1:
            qa = tuple(turn for item in group for turn in item.qa)
            query = first.query or first.qa[0][0]
            convs = [_conversation(sid, qa, query, first)]
        else:
            convs = [
                _conversation(self.sample_id(i.key), i.qa, i.query or i.qa[0][0], i) for i in group
            ]
        media = first.media or self.media
        missing = Reason.MISSING_IMAGE if media == "image" else Reason.MISSING_VIDEO
        return Sample(
            sid,
            first.video,
            conversations=convs,
            clip=first.span or (None, None),
            clip_unit=first.span_unit,
            media=media,
            error=(missing, first.error) if first.error else None,
            images=list(first.images),
        )

    def multiple_choice(
        self, question: str, options: Sequence[str], correct: Sequence[int]
    ) -> tuple[str, str]:
        """(prompt, answer) rendered with the run's ``--mc-template``."""
        return render_choice(self.ctx.mc_template, question, options, correct)


def _conversation(
    cid: str, qa: tuple[tuple[str, str], ...], query: str, item: Item
) -> Conversation:
    turns: list[tuple[str, str]] = []
    for k, (question, answer) in enumerate(qa):
        turns += [("human", (IMAGE_TOKEN if k == 0 else "") + question), ("gpt", answer)]
    return Conversation(cid, tuple(turns), query, item.label, item.classname)


def _parse_json(text: IO[str]) -> Any:
    try:
        return json.load(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadAnnotation(f"invalid JSON: {e}") from None


def _fmt(t: float | None) -> str:
    """A span bound in an id: to the millisecond, without trailing zeros."""
    return "end" if t is None else f"{t:.3f}".rstrip("0").rstrip(".")


def _listing_scope(pattern: str) -> tuple[str, int]:
    """(folder, depth): the folders of ``pattern`` before any wildcard, and how many
    path levels below them the pattern reaches (``*`` stays within one level)."""
    parts = pattern.split("/")
    fixed = 0
    while fixed < len(parts) - 1 and not any(c in parts[fixed] for c in "*?["):
        fixed += 1
    return "/".join(parts[:fixed]), len(parts) - fixed
