"""Flickr30k-CN (Chinese captions, OFA-Sys/chinese-clip-eval), as Chinese-CLIP publishes it
(texts in ``{split}_texts.jsonl``, images base64 in ``{split}_imgs.tsv``) or as seed 001
prepares it for CN-CLIP (the texts next to ``flickr30k-images/``, or its generated JSON)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import posixpath
from collections.abc import Iterable, Iterator
from typing import IO, Any

from vidray import prompts
from vidray.io import shards, storage
from vidray.records import Sample
from vidray.schema import Reason
from vidray.sources.annotations import Item
from vidray.sources.base import BadAnnotation
from vidray.sources.image_captions import ImageCaptions, caption_text, in_folder
from vidray.sources.text import require
from vidray.sources.videos import MissingVideo

IMAGES = "flickr30k-images"
#: Chinese-CLIP writes its images with ``base64.b64encode`` and reads them with
#: ``base64.urlsafe_b64decode`` (``cn_clip/training/data.py``): both alphabets are read.
_URLSAFE = bytes.maketrans(b"-_", b"+/")


class Flickr30kCN(ImageCaptions):
    """One row per (Chinese caption, image), from either published form, the first
    found per split:

    - Chinese-CLIP's ``train_texts.jsonl``, ``valid_texts.jsonl`` (seed 001 writes
      ``val_texts.jsonl``; both names are read) and ``test_texts.jsonl``: lines
      ``{"text_id", "text", "image_ids": [...]}``, one text for the images it lists.
      Row ids are ``flickr30k-cn:<text_id>`` (``<text_id>/<image_id>`` for a text on
      several images). The images are, first found:

      - Chinese-CLIP's release (``Flickr30k-CN.zip``, README "Data Preprocessing"):
        ``{split}_imgs.tsv`` next to the texts (``train_imgs.tsv`` for
        ``train_texts.jsonl``; ``val_texts.jsonl`` takes ``val_imgs.tsv``, else
        ``valid_imgs.tsv``), one ``<image_id>\\t<base64 image>`` line each. The tsv is
        read once per job to index where each line's image lies (an id -> byte range
        table, not the images), then each image by its range when its sample is
        yielded. A row's ``video`` is ``<tsv>#<image_id>``. An id the tsv lacks is a
        ``missing_image`` row; a line whose image is not base64 (or empty), a
        ``decode_error`` row naming the line.
      - seed 001's tree: ``flickr30k-images/<image_id>.jpg``.
    - the seed's ``generate_flickr30k_cn_json.py`` output ``flickr30k_cn_{split}.json``
      in BLIP's form (ids ``flickr30k-cn:<image>#<k>``, see ``ImageCaptions``). That
      script drops captions whose image is missing; from the jsonl they are
      ``missing_image`` rows instead, which is why the jsonl is read first.

    The instruction is drawn from a Chinese caption pool (``--prompts`` replaces it)."""

    name = "flickr30k-cn"
    layout = (
        "INPUT/{train,valid,test}_texts.jsonl  {text_id, text, image_ids: [...]} "
        "(Chinese-CLIP), or INPUT/flickr30k_cn_{train,val,test}.json (BLIP form, the seed's "
        "generated copy); images: INPUT/{train,valid,test}_imgs.tsv (<image_id>\\t<base64> "
        f"lines, Chinese-CLIP's release), else INPUT/{IMAGES}/<image_id>.jpg"
    )
    annotation_files = {
        "train": ("train_texts.jsonl", "flickr30k_cn_train.json"),
        "val": ("valid_texts.jsonl", "val_texts.jsonl", "flickr30k_cn_val.json"),
        "test": ("test_texts.jsonl", "flickr30k_cn_test.json"),
    }

    def __init__(self, ctx: Any = None) -> None:
        super().__init__(ctx)
        #: The unit's tsv of images (None: the images folder), and its index.
        self._tsv: str | None = None
        self._tsv_index: dict[str, tuple[int, int]] | None = None
        #: tsv path -> its index: built once per source object (one read task a split).
        self._indexes: dict[str, dict[str, tuple[int, int]]] = {}
        #: ``count`` (--limit) needs no image: neither the index nor the images are read.
        self._counting = False

    def image_path(self, image: str) -> str:
        return in_folder(image, IMAGES)

    def count(self, loc: storage.Location, unit: str, cap: int) -> int:
        # An image is one sample whether it is found or missing: the count needs no tsv.
        self._counting = True
        try:
            return super().count(loc, unit, cap)
        finally:
            self._counting = False

    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        self._tsv = images_tsv(loc, unit) if unit.endswith(".jsonl") else None
        if self._tsv is None:
            yield from super().samples(loc, unit)
            return
        if self._counting:
            self._tsv_index = None
            yield from super().samples(loc, unit)
            return
        if self._tsv not in self._indexes:
            with storage.open_read(loc, self._tsv) as f:
                self._indexes[self._tsv] = index_tsv(f)
        self._tsv_index = self._indexes[self._tsv]
        with storage.open_read(loc, self._tsv) as f:
            for sample in super().samples(loc, unit):
                yield self._with_image(f, sample)

    def resolve(self, loc: storage.Location, item: Item) -> Item:
        if self._tsv is None or self._tsv_index is None:
            return item
        image_id = item.video.rpartition("#")[2]
        if image_id not in self._tsv_index:
            raise MissingVideo(item.video, f"no line for image {image_id} in {self._tsv}")
        return item

    def _with_image(self, f: IO[bytes], sample: Sample) -> Sample:
        """The sample with its image read from the tsv by its byte range and decoded;
        a line that holds no base64 image makes it a ``decode_error`` row."""
        if sample.error:
            return sample
        assert self._tsv_index is not None
        image_id = sample.video.rpartition("#")[2]
        offset, size = self._tsv_index[image_id]
        f.seek(offset)
        try:
            data = decode_b64(f.read(size))
        except ValueError as e:
            message = f"image {image_id} in {self._tsv} is not a base64 image: {e}"
            return dataclasses.replace(sample, error=(Reason.DECODE_ERROR, message))
        return dataclasses.replace(sample, images=[data])

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        if not unit.endswith(".jsonl"):
            return super().items(unit, key, record)
        return self._text_items(record)

    def _text_items(self, record: Any) -> Iterator[Item]:
        text_id = require(record, "text_id", (int, str))
        text = caption_text(require(record, "text"))
        if not text:
            raise BadAnnotation(f"text {text_id} has no words besides media tokens")
        image_ids = require(record, "image_ids", list)
        for image_id in image_ids:
            if isinstance(image_id, bool) or not isinstance(image_id, int | str):
                raise BadAnnotation(f"image id {image_id!r:.40} is not a number or a name")
        for image_id in image_ids:
            key = f"{text_id}" if len(image_ids) == 1 else f"{text_id}/{image_id}"
            if self._tsv is None:
                image = f"{IMAGES}/{image_id}.jpg"
            else:
                image = shards.member_ref(self._tsv, str(image_id).strip())
            yield self.caption_item(key, image, text)

    def caption_item(self, key: str, image: str, caption: str) -> Item:
        pool = self.ctx.image_prompts
        if pool == prompts.BUILTIN_IMAGE_PROMPTS:
            pool = prompts.BUILTIN_IMAGE_PROMPTS_ZH
        instruction = prompts.draw(pool, self.sample_id(key), self.ctx.seed)
        return Item.single(key, image, instruction, caption)


def images_tsv(loc: storage.Location, texts: str) -> str | None:
    """The ``{split}_imgs.tsv`` of a ``{split}_texts.jsonl`` when it is there (the seed's
    ``val_texts.jsonl`` takes ``val_imgs.tsv``, else Chinese-CLIP's ``valid_imgs.tsv``)."""
    folder, name = posixpath.split(texts)
    split = name.removesuffix("_texts.jsonl")
    names = [f"{split}_imgs.tsv"] + (["valid_imgs.tsv"] if split == "val" else [])
    for tsv in (posixpath.join(folder, n) for n in names):
        if storage.exists(loc, tsv):
            return tsv
    return None


def index_tsv(f: IO[bytes]) -> dict[str, tuple[int, int]]:
    """``<image_id>\\t<base64>`` lines -> {image_id: (offset, size) of its base64}, in one
    pass that keeps no image. A line without a tab is an id with an empty image; on a
    repeated id the first line wins."""
    index: dict[str, tuple[int, int]] = {}
    offset = 0
    for line in f:
        body = line.rstrip(b"\r\n")
        tab = body.find(b"\t")
        image_id, start = (body, len(body)) if tab < 0 else (body[:tab], tab + 1)
        key = image_id.strip().decode("utf-8", errors="replace")
        if key:
            index.setdefault(key, (offset + start, len(body) - start))
        offset += len(line)
    return index


def decode_b64(text: bytes) -> bytes:
    """A tsv line's image: base64 in the standard or the URL-safe alphabet."""
    text = text.strip()
    if not text:
        raise ValueError("the line holds no image after its id")
    try:
        return base64.b64decode(text.translate(_URLSAFE), validate=True)
    except binascii.Error as e:
        raise ValueError(str(e)) from None
