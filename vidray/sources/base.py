"""What every source is: the ``Source`` interface the driver speaks to, the context a
source is built with, and the errors a source raises.

A source is a small declarative adapter on top of one of two shared layouts:
``vidray.sources.shards`` (tar or parquet shards carrying their videos) and
``vidray.sources.annotations`` (annotation files next to a folder of videos). The
text helpers are in ``vidray.sources.text``, video lookup in ``vidray.sources.videos``.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from vidray import prompts
from vidray.config import DatasetOptions
from vidray.io import storage
from vidray.prompts import BUILTIN_IMAGE_PROMPTS, BUILTIN_PROMPTS
from vidray.records import Sample


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


class Source(ABC):
    """A dataset adapter. Subclasses set ``name`` and ``layout`` and fill in a hook.

    Besides its samples, a source answers what the driver asks of every source: its
    media and splits, where its videos are, the files it leaves unread and the video
    lookup it builds. The defaults are those of a source whose shards carry their media
    (no splits, no videos folder); ``AnnotationSource`` answers for its layout.
    """

    name: ClassVar[str]
    #: The input layout, as ``vidray sources`` shows it.
    layout: ClassVar[str]
    #: ``video``: the samples' media are video files; ``frames``: a video is a folder of
    #: frame images shot at ``frames_fps``; ``image``: the "videos" are still images
    #: (image datasets).
    media: ClassVar[Literal["video", "frames", "image"]] = "video"
    frames_fps: ClassVar[float | None] = None
    #: The input shards carry the media themselves: there is no videos folder and no
    #: split to choose, so ``--videos`` and ``--split`` do not apply.
    media_in_shards: ClassVar[bool] = True
    #: The split read when ``--split`` is not given; None: the source has no splits.
    default_split: ClassVar[str | None] = None

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

    @classmethod
    def split_names(cls) -> tuple[str, ...]:
        """The splits ``--split`` may name, as ``vidray sources`` lists them; () when the
        source has none."""
        return ()

    def split(self) -> str | None:
        """The split this source reads (``--split`` or ``default_split``); None when it
        has none."""
        return None

    def videos_location(self, loc: storage.Location) -> storage.Location | None:
        """The root the samples' video paths are relative to, for the dataset at
        ``loc``; None when the samples carry their media (bytes, or a byte range of a
        shard)."""
        return None

    def skipped_units(self, loc: storage.Location) -> list[str]:
        """Files at ``loc`` where the source looks for its input but that it does not
        read: reported in the run's summary, so that nothing is left out unseen."""
        return []

    def video_index(self, loc: storage.Location) -> dict[str, str] | None:
        """A video lookup table for the dataset at ``loc``, which the driver builds once
        per job and hands to every read task (``use_video_index``); None when the source
        finds its videos without one."""
        return None

    def use_video_index(self, index: dict[str, str]) -> None:
        """Take the table ``video_index`` built, instead of building it again."""
        raise TypeError(f"{self.name} builds no video index to take")


class BadInput(ValueError):
    """The input as a whole cannot be read by this source (found before any work
    starts; the message is one line naming what is supported)."""


class BadSplit(BadInput):
    """``--split`` names a split the source does not have."""


class UnsupportedLayout(BadInput):
    """The input is a release of the dataset this source does not read."""
