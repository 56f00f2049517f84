"""Flickr30k-CN (Chinese captions, OFA-Sys/chinese-clip-eval), as seed 001 prepares it
for CN-CLIP: Chinese-CLIP's ``{split}_texts.jsonl`` or the seed's generated JSON."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from vidray import prompts
from vidray.sources.annotations import Item
from vidray.sources.base import BadAnnotation
from vidray.sources.image_captions import ImageCaptions, in_folder
from vidray.sources.text import require

IMAGES = "flickr30k-images"


class Flickr30kCN(ImageCaptions):
    """One row per (Chinese caption, image), from either published form, the first
    found per split:

    - Chinese-CLIP's ``train_texts.jsonl``, ``valid_texts.jsonl`` (seed 001 writes
      ``val_texts.jsonl``; both names are read) and ``test_texts.jsonl``: lines
      ``{"text_id", "text", "image_ids": [...]}``, one text for the images it lists,
      joined to ``flickr30k-images/<image_id>.jpg``. Row ids are ``flickr30k-cn:<text_id>``
      (``<text_id>/<image_id>`` for a text on several images).
    - the seed's ``generate_flickr30k_cn_json.py`` output ``flickr30k_cn_{split}.json``
      in BLIP's form (ids ``flickr30k-cn:<image>#<k>``, see ``ImageCaptions``). That
      script drops captions whose image is missing; from the jsonl they are
      ``missing_image`` rows instead, which is why the jsonl is read first.

    The instruction is drawn from a Chinese caption pool (``--prompts`` replaces it)."""

    name = "flickr30k-cn"
    layout = (
        "INPUT/{train,valid,test}_texts.jsonl  {text_id, text, image_ids: [...]} "
        "(Chinese-CLIP), or INPUT/flickr30k_cn_{train,val,test}.json (BLIP form, the seed's "
        f"generated copy); images: INPUT/{IMAGES}/<image_id>.jpg"
    )
    annotation_files = {
        "train": ("train_texts.jsonl", "flickr30k_cn_train.json"),
        "val": ("valid_texts.jsonl", "val_texts.jsonl", "flickr30k_cn_val.json"),
        "test": ("test_texts.jsonl", "flickr30k_cn_test.json"),
    }

    def image_path(self, image: str) -> str:
        return in_folder(image, IMAGES)

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        if not unit.endswith(".jsonl"):
            return super().items(unit, key, record)
        return self._text_items(record)

    def _text_items(self, record: Any) -> Iterator[Item]:
        text_id = require(record, "text_id", (int, str))
        text = " ".join(require(record, "text").split())
        image_ids = require(record, "image_ids", list)
        for image_id in image_ids:
            if isinstance(image_id, bool) or not isinstance(image_id, int | str):
                raise BadAnnotation(f"image id {image_id!r:.40} is not a number or a name")
        for image_id in image_ids:
            key = f"{text_id}" if len(image_ids) == 1 else f"{text_id}/{image_id}"
            yield self.caption_item(key, f"{IMAGES}/{image_id}.jpg", text)

    def caption_item(self, key: str, image: str, caption: str) -> Item:
        pool = self.ctx.image_prompts
        if pool == prompts.BUILTIN_IMAGE_PROMPTS:
            pool = prompts.BUILTIN_IMAGE_PROMPTS_ZH
        instruction = prompts.draw(pool, self.sample_id(key), self.ctx.seed)
        return Item.single(key, image, instruction, caption)
