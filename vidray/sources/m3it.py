"""M3IT (MMInstruction/M3IT), the image instructions of VideoChat2-IT (seed 003): JSON
lines that carry their images as base64."""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from collections.abc import Iterable, Iterator
from typing import Any

from vidray import prompts
from vidray.io import shards, storage
from vidray.records import Sample
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation, SourceContext
from vidray.sources.text import require

SPLITS = ("train", "val", "test")
INSTRUCTIONS = "instructions.json"
#: ``data:image/jpeg;base64,`` in front of a few images of some web-scraped sets.
_DATA_URL = re.compile(r"^data:[\w/+.-]+;base64,")


class M3IT(AnnotationSource):
    """One row per record: ``instruction`` and then ``inputs`` (the question, empty for
    captioning) as the human turn, ``outputs`` as the answer, over the record's
    ``image_base64_str`` images in their order (several for M3IT's video tasks: their
    sampled frames; no timestamps are known, so the rows are image rows).

    Files are ``data/<task group>/<dataset>/{train,val,test}.jsonl`` (a few datasets
    publish ``<name>_{split}.jsonl``; ``validation`` is read as ``val``). A record
    without an ``instruction`` gets one drawn from its dataset's ``instructions.json``
    (a JSON list of templates) by row id and ``--seed``. An image that is not valid
    base64 makes its record a ``bad_annotation`` row; one that decodes to no readable
    image, a ``decode_error`` row. Row ids are ``m3it:<task group>/<dataset>/<file
    stem>#<line>``; the row's ``video`` is ``<file>#<line>``."""

    name = "m3it"
    layout = (
        "INPUT/data/<task group>/<dataset>/{train,val,test}.jsonl  {instruction, inputs, "
        "image_base64_str: [base64, ...], outputs} + instructions.json (the images are inside)"
    )
    annotation_files = {
        "train": ("data/*/*/train.jsonl", "data/*/*/*_train.jsonl"),
        "val": (
            "data/*/*/val.jsonl",
            "data/*/*/*_val.jsonl",
            "data/*/*/validation.jsonl",
            "data/*/*/*_validation.jsonl",
        ),
        "test": ("data/*/*/test.jsonl", "data/*/*/*_test.jsonl"),
    }
    companion_files = (f"data/*/*/{INSTRUCTIONS}",)
    videos_dir = ""
    media = "image"
    #: Records are independent and files large (1.5 GB for iVQA's train): group none
    #: beyond their line, so a file streams through its read task.
    group_consecutive = True

    def __init__(self, ctx: SourceContext | None = None) -> None:
        super().__init__(ctx)
        #: dataset folder -> its instruction templates (read when a record lacks one).
        self._templates: dict[str, tuple[str, ...]] = {}
        self._loc: storage.Location | None = None

    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        self._loc = loc  # where a record without an instruction finds its templates
        return super().samples(loc, unit)

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        folder = posixpath.dirname(unit)
        stem = posixpath.splitext(posixpath.basename(unit))[0]
        item_key = f"{folder.removeprefix('data/')}/{stem}#{key}"
        if not isinstance(record, dict):
            raise BadAnnotation(f"record is a {type(record).__name__}, not an object")
        instruction = record.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            pool = self._instructions(folder)
            instruction = prompts.draw(pool, self.sample_id(item_key), self.ctx.seed)
        inputs = record.get("inputs")
        if inputs is not None and not isinstance(inputs, str):
            raise BadAnnotation(f"'inputs' is a {type(inputs).__name__}, not text")
        answer = require(record, "outputs")
        question = "\n".join(t.strip() for t in (instruction, inputs or "") if t.strip())
        images = tuple(decode_images(record.get("image_base64_str")))
        video = shards.member_ref(unit, key)
        yield Item.single(item_key, video, question, answer, images=images)

    def _instructions(self, folder: str) -> tuple[str, ...]:
        if folder not in self._templates:
            assert self._loc is not None
            rel = f"{folder}/{INSTRUCTIONS}"
            try:
                pool = self.read_json(self._loc, rel)
            except FileNotFoundError:
                raise BadAnnotation(f"no 'instruction', and no {rel} to draw one from") from None
            if not isinstance(pool, list) or not all(isinstance(t, str) for t in pool):
                raise BadAnnotation(f"{rel} is not a list of instruction strings")
            self._templates[folder] = tuple(t.strip() for t in pool if t.strip())
        if not self._templates[folder]:
            raise BadAnnotation(f"no 'instruction', and {folder}/{INSTRUCTIONS} holds none")
        return self._templates[folder]


def decode_images(value: Any) -> list[bytes]:
    """``image_base64_str``: a list of base64 images (a lone string is one image)."""
    strings = [value] if isinstance(value, str) else value
    if not isinstance(strings, list) or not strings:
        raise BadAnnotation("'image_base64_str' is missing or holds no image")
    images = []
    for k, text in enumerate(strings):
        if not isinstance(text, str) or not text.strip():
            raise BadAnnotation(f"image {k} of 'image_base64_str' is empty or not a string")
        try:
            images.append(base64.b64decode(_DATA_URL.sub("", text.strip()), validate=True))
        except (binascii.Error, ValueError) as e:
            raise BadAnnotation(f"image {k} of 'image_base64_str' is not base64: {e}") from None
    return images
