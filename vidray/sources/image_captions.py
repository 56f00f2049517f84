"""What the caption image sets share (COCO Karpathy, Flickr30k, Flickr30k-CN, Flickr5k):
the BLIP annotation form, one row per (image, caption).

BLIP's files (``coco_karpathy_{train,val,test}.json``, ``flickr30k_{train,val,test}.json``)
are JSON lists in two shapes: training files hold one record per caption,
``{"image": "val2014/COCO_val2014_000000391895.jpg", "caption": "A man ...",
"image_id": "coco_391895"}``; evaluation files one record per image with every caption,
``{"image": ..., "caption": ["...", ...]}``. Either shape is accepted in any file.
"""

from __future__ import annotations

import posixpath
from abc import abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from vidray.io import storage
from vidray.records import Sample
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation, SourceContext
from vidray.sources.text import require, strip_media_tokens


class ImageCaptions(AnnotationSource):
    """One row per caption of an image, the instruction drawn from the image caption
    pool by the row id and ``--seed`` (``--prompts`` replaces the pool). Every caption of
    an image in one annotation file is a row of one sample, so the image is decoded once.

    Row ids are ``<source>:<image>#<k>``, the image's path relative to INPUT and ``k``
    the caption's position among that image's captions in the file (from 0): the same
    id whichever of BLIP's two shapes the file has."""

    media = "image"
    videos_dir = ""
    #: The same annotations can sit next to each other in two published forms.
    first_form_only = True

    def __init__(self, ctx: SourceContext | None = None) -> None:
        super().__init__(ctx)
        self._captions: Counter[str] = Counter()

    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        self._captions = Counter()  # caption positions count within one file
        yield from super().samples(loc, unit)

    @abstractmethod
    def image_path(self, image: str) -> str:
        """The image's path relative to INPUT, from an annotation's ``image``."""

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        image = self.image_path(_clean_path(require(record, "image")))
        return self.caption_items(image, captions_of(record))

    def caption_items(self, image: str, captions: list[str]) -> Iterator[Item]:
        for caption in captions:
            key = f"{image}#{self._captions[image]}"
            self._captions[image] += 1
            yield self.caption_item(key, image, caption)

    def caption_item(self, key: str, image: str, caption: str) -> Item:
        instruction = self.ctx.instruction(self.sample_id(key), image=True)
        return Item.single(key, image, instruction, caption)


def captions_of(record: dict[str, Any]) -> list[str]:
    """``caption`` as a list: one string (training files) or a list of them
    (evaluation files); every one must have text besides media tokens."""
    value = record.get("caption")
    captions = [value] if isinstance(value, str) else value
    if not isinstance(captions, list) or not captions:
        raise BadAnnotation("'caption' is missing, or neither a string nor a list of them")
    texts = []
    for k, caption in enumerate(captions):
        text = caption_text(caption) if isinstance(caption, str) else ""
        if not text:
            raise BadAnnotation(f"caption {k} is empty or not a string: {caption!r:.60}")
        texts.append(text)
    return texts


def caption_text(caption: str) -> str:
    """A caption as the gpt turn says it: its whitespace runs as one space and without
    any ``<image>`` / ``<video>`` token of its own (the row's one token is vidray's)."""
    return " ".join(strip_media_tokens(caption).split())


def _clean_path(path: str) -> str:
    clean = posixpath.normpath(path.replace("\\", "/")).lstrip("/")
    if clean.startswith("..") or clean == ".":
        raise BadAnnotation(f"image path {path!r} leaves the dataset folder")
    return clean


def in_folder(image: str, folder: str) -> str:
    """A bare file name is in ``folder``; a path with folders is kept as it is."""
    return image if "/" in image else f"{folder}/{image}"
