"""What every source shares: the sample it yields, and shard reading done once.

A source is a small declarative adapter. It says where its annotations are (the
shard suffix and folder), which member or column holds the video, and how one
annotation becomes conversations. Reading, pairing, error handling and sharding
live here and in ``vidray.io``.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import io
import json
import math
import posixpath
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, ClassVar, Literal

from vidray import prompts
from vidray.config import DatasetOptions
from vidray.io import shards, storage
from vidray.prompts import BUILTIN_IMAGE_PROMPTS, BUILTIN_PROMPTS
from vidray.records import Conversation, Sample


class BadAnnotation(ValueError):
    """An annotation that cannot become a conversation; becomes a ``bad_annotation`` row."""


@dataclass(frozen=True)
class SourceContext:
    """What a source needs besides its input: the dataset options (the group itself),
    and the instruction pools ``dataset.prompts`` loaded."""

    dataset: DatasetOptions = dataclasses.field(
        default_factory=lambda: DatasetOptions(source="", input="")
    )
    prompts: tuple[str, ...] = BUILTIN_PROMPTS
    #: The pool of caption instructions for image sets (``--prompts`` sets both).
    image_prompts: tuple[str, ...] = BUILTIN_IMAGE_PROMPTS

    @classmethod
    def of(
        cls,
        *,
        prompts: tuple[str, ...] = BUILTIN_PROMPTS,
        image_prompts: tuple[str, ...] = BUILTIN_IMAGE_PROMPTS,
        **dataset: Any,
    ) -> SourceContext:
        """A context from flat dataset options (``split=``, ``seed=``, ...), for a
        source used on its own."""
        dataset.setdefault("source", "")
        dataset.setdefault("input", "")
        return cls(DatasetOptions(**dataset), prompts, image_prompts)

    @property
    def seed(self) -> int:
        return self.dataset.seed

    @property
    def videos(self) -> str | None:
        """Where the videos are (annotation sources); None: the source's default folder."""
        return self.dataset.videos

    @property
    def split(self) -> str | None:
        """The dataset split to read; None: the source's default."""
        return self.dataset.split

    @property
    def qa_mode(self) -> Literal["split", "multiturn"]:
        return self.dataset.qa_mode  # type: ignore[return-value]

    @property
    def mc_template(self) -> str:
        return self.dataset.mc_template

    def instruction(self, sample_id: str, *, image: bool = False) -> str:
        return prompts.draw(self.image_prompts if image else self.prompts, sample_id, self.seed)


IMAGE_TOKEN = "<image>\n"


def single_turn(row_id: str, question: str, answer: str) -> Conversation:
    """The recipe's record: the human turn starts with ``<image>\\n``."""
    return Conversation(row_id, (("human", IMAGE_TOKEN + question), ("gpt", answer)), question)


def require_text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadAnnotation(f"{name} is missing or empty")
    return value.strip()


def require(record: Any, key: str, kind: type | tuple[type, ...] = str) -> Any:
    """``record[key]`` when it is a non-empty ``kind``; else ``BadAnnotation``."""
    if not isinstance(record, dict):
        raise BadAnnotation(f"record is a {type(record).__name__}, not an object")
    value = record.get(key)
    if isinstance(value, str):
        value = value.strip()
    if not isinstance(value, kind) or (isinstance(value, str | list | dict) and not value):
        raise BadAnnotation(f"{key!r} is missing, empty or not a {_kind_name(kind)}")
    return value


def require_number(record: Any, key: str) -> float:
    """``record[key]`` as a finite float (numbers or numeric strings)."""
    if not isinstance(record, dict):
        raise BadAnnotation(f"record is a {type(record).__name__}, not an object")
    value = record.get(key)
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadAnnotation(f"{key!r} is missing or not a number: {value!r}") from None
    if not math.isfinite(number):
        raise BadAnnotation(f"{key!r} is not finite: {value!r}")
    return number


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def answer_text(record: Any, key: str) -> str:
    """An open answer: text, or a number (counting questions) written as text."""
    value = record.get(key) if isinstance(record, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return require(record, key)


_MEDIA_TOKEN = re.compile(r"\s*<(?:video|image)>\s*")


def strip_media_tokens(text: str) -> str:
    """``text`` without the datasets' own ``<video>`` / ``<image>`` tokens, wherever they
    sit: vidray puts its own token at the start of the first human turn."""
    return _MEDIA_TOKEN.sub(" ", text).strip()


def dialogue_pairs(turns: Any) -> list[tuple[str, str]]:
    """The (question, answer) pairs of a sharegpt ``conversations`` list: human and gpt
    turns alternating, each with text once its media tokens are removed."""
    if not isinstance(turns, list) or not turns:
        raise BadAnnotation("'conversations' is missing, empty or not a list")
    if len(turns) % 2:
        raise BadAnnotation(f"{len(turns)} turns: not (human, gpt) pairs")
    texts = []
    for k, turn in enumerate(turns):
        role = "human" if k % 2 == 0 else "gpt"
        if not isinstance(turn, dict) or turn.get("from") != role:
            got = turn.get("from") if isinstance(turn, dict) else type(turn).__name__
            raise BadAnnotation(f"turn {k} is from {got!r}, expected {role!r}")
        value = turn.get("value")
        text = strip_media_tokens(value) if isinstance(value, str) else ""
        if not text:
            raise BadAnnotation(f"turn {k} has no text besides media tokens")
        texts.append(text)
    return list(zip(texts[::2], texts[1::2], strict=True))


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def option_index(options: Sequence[str], answer: str) -> int:
    """The index of the option whose text is ``answer`` (whitespace and case ignored)."""
    want = " ".join(answer.split()).casefold()
    for i, option in enumerate(options):
        if " ".join(str(option).split()).casefold() == want:
            return i
    raise BadAnnotation(f"answer {answer!r} is none of the {len(options)} options")


def render_choice(
    template: str, question: str, options: Sequence[str], correct: Sequence[int]
) -> tuple[str, str]:
    """(prompt, answer) of a multiple-choice question: the options lettered ``A.``,
    ``B.``, ... inside ``template``; the answer is each correct letter with its text."""
    if not options:
        raise BadAnnotation("multiple-choice question without options")
    if len(options) > len(LETTERS):
        raise BadAnnotation(f"{len(options)} options; at most {len(LETTERS)} can be lettered")
    texts = [" ".join(str(o).split()) for o in options]
    if any(not t for t in texts):
        raise BadAnnotation("an option is empty")
    if not correct:
        raise BadAnnotation("no option is marked correct")
    for i in correct:
        if not 0 <= i < len(texts):
            raise BadAnnotation(f"answer index {i} is outside the {len(texts)} options")
    lines = "\n".join(f"{LETTERS[i]}. {t}" for i, t in enumerate(texts))
    answer = "\n".join(f"{LETTERS[i]}. {texts[i]}" for i in sorted(set(correct)))
    return template.format(question=question, options=lines), answer


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

    @abstractmethod
    def is_unit(self, rel: str) -> bool:
        """Whether ``units`` would list a file at ``rel`` (found without a listing: a
        single shard given as INPUT)."""

    #: ``count`` reads metadata only (a parquet footer), so the driver may count every
    #: unit up front to show a total.
    cheap_count: ClassVar[bool] = False

    def sample_id(self, ref: str) -> str:
        return f"{self.name}:{ref}"


#: A tar member video above this size is not carried in its sample: the decoder
#: process reads it from the tar by byte ranges (web clips are a few MiB; a long
#: video in a tar would otherwise sit whole in the read task, the unit and the pipe).
TAR_INLINE_BYTES = 16 * 2**20


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
            for group in shards.iter_tar_groups(f, exts, (self.video_ext, TAR_INLINE_BYTES)):
                yield self._sample(loc, unit, group)

    def _sample(self, loc: storage.Location, unit: str, group: shards.TarGroup) -> Sample:
        ref = shards.member_ref(unit, f"{group.key}.{self.video_ext}")
        sid = self.sample_id(ref)
        if self.video_ext in group.rejected or self.meta_ext in group.rejected:
            reason = group.rejected.get(self.video_ext) or group.rejected[self.meta_ext]
            return Sample(sid, ref, error=("bad_member", reason))
        has_video = self.video_ext in group.files or self.video_ext in group.ranges
        has_meta = self.meta_ext in group.files
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
        if self.video_ext in group.ranges:
            offset, size = group.ranges[self.video_ext]
            member = storage.FileRef(loc.uri, unit, offset, size)
            return Sample(sid, ref, conversations=convs, ref=member)
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
                    yield Sample(sid, ref, error=("bad_annotation", str(e)))
                    continue
                data = row[self.video_column]
                if not data:
                    yield Sample(sid, ref, error=("missing_video", "empty video cell"))
                    continue
                yield Sample(sid, ref, data=data, conversations=convs)


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
#: Matched in any case (``.MP4``). Besides the common containers, the raw uploads some
#: datasets keep (DiDeMo's Flickr files: ``.3gp``, ``.wmv``, ...), all read by FFmpeg.
VIDEO_SUFFIXES = (
    ".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".gif", ".mpg", ".mpeg",
    ".3gp", ".3g2", ".wmv", ".asf", ".flv", ".ogv", ".mts", ".m2ts", ".vob",
)  # fmt: skip
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
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
    #: ``frames``: a video is a folder of frame images shot at ``frames_fps``;
    #: ``image``: the "videos" are still images (image datasets).
    media: ClassVar[Literal["video", "frames", "image"]] = "video"
    frames_fps: ClassVar[float | None] = None
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
                groups[("error", ref)] = Sample(sid, ref, error=("bad_annotation", str(e)))
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
        return _index_by_stem(self.videos_location(loc)) if self.find_videos_by_stem else None

    def use_video_index(self, index: dict[str, str]) -> None:
        """Take the table ``video_index`` built, instead of listing the root again."""
        self._stems = index

    def find_video(self, loc: storage.Location, names: Iterable[str]) -> str | None:
        """The path, relative to the videos root, of the first of ``names`` found in one
        listing of the root (made once per source object), any video suffix; None when
        none is there."""
        if self._stems is None:
            self._stems = _index_by_stem(self.videos_location(loc))
        for name in names:
            # The name as a stem first (``x.avi`` saved as ``x.avi.mp4``), then without
            # its video suffix (``x.avi`` saved as ``x.mkv``).
            stems = [name, posixpath.splitext(name)[0]] if _has_video_suffix(name) else [name]
            found = next((self._stems[s] for s in stems if s in self._stems), None)
            if found is not None:
                return found
        return None

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
        missing = "missing_image" if media == "image" else "missing_video"
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


class BadInput(ValueError):
    """The input as a whole cannot be read by this source (found before any work
    starts; the message is one line naming what is supported)."""


class BadSplit(BadInput):
    """``--split`` names a split the source does not have."""


class UnsupportedLayout(BadInput):
    """The input is a release of the dataset this source does not read."""


class MissingVideo(Exception):
    """Raised by ``resolve``: the item's video is not in the videos root."""

    def __init__(self, video: str, message: str | None = None) -> None:
        super().__init__(
            message or f"no video named {video!r} (any of {', '.join(VIDEO_SUFFIXES)})"
        )
        self.video = video


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


def _has_video_suffix(name: str) -> bool:
    return name.lower().endswith(VIDEO_SUFFIXES)


def _index_by_stem(videos: storage.Location) -> dict[str, str]:
    """Video file stem -> relative path, from one recursive listing. On a clash the
    first path in sorted order wins, so the choice is stable."""
    index: dict[str, str] = {}
    for rel in storage.list_files(videos, VIDEO_SUFFIXES):
        index.setdefault(posixpath.splitext(posixpath.basename(rel))[0], rel)
    return index
