"""M3IT (MMInstruction/M3IT), the image instructions of VideoChat2-IT (seed 003): JSON
lines that carry their images as base64."""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
from collections.abc import Iterable, Iterator
from typing import Any

from vidray import prompts
from vidray.io import shards, storage
from vidray.records import Sample
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation, SourceContext
from vidray.sources.text import answer_text, require

SPLITS = ("train", "val", "test")
INSTRUCTIONS = "instructions.json"
#: ``data:image/jpeg;base64,`` in front of a few images of some web-scraped sets.
_DATA_URL = re.compile(r"^data:[\w/+.-]+;base64,")


class M3IT(AnnotationSource):
    """One row per instance: ``instruction`` and then ``inputs`` (the question, empty for
    captioning) as the human turn, ``outputs`` as the answer, over the instance's
    ``image_base64_str`` images in their order (several for M3IT's video tasks: their
    sampled frames; no timestamps are known, so the rows are image rows).

    Not every file on the hub is in that instance form: the hub loader (``M3IT.py`` in
    the MMInstruction/M3IT dataset repository) maps some datasets' raw lines to it, and
    so does this source, line by line, by the fields a line has (``FORMS``):

    - ``instance``: ``{instruction, inputs, image_base64_str, outputs}`` (the loader
      passes it through; seen by its ``if "image_base64_str" in data`` branch);
    - ``caption``: ``{"image": base64, "meta": {"targets": [captions, ...]}}`` (e.g.
      ``captioning/coco/train.jsonl``; the loader's coco branch yields an instance per
      target, ``for target in data['meta']['targets']``, image ``[data['image']]``,
      empty inputs): a row per target, ids ``...#<line>/<k>``, the instruction drawn
      from ``instructions.json``;
    - ``video_qa``: ``{"video_str": [base64 frames], "question", "answer"}`` (e.g.
      ``vqa/activitynet-qa/train.jsonl``): the frames as the images, the question as
      ``inputs``, the answer as ``outputs``, the instruction drawn from
      ``instructions.json``.

    The loader's other per-dataset mappings are not read here (their text could not be
    confirmed). A file whose first record has none of these forms is not read: it is
    reported once with the files no split reads (``skipped_units``: the run's summary
    and ``_SUCCESS``), not as an error row per line; a later line of no known form in a
    file that is read is a ``bad_annotation`` row.

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
        "image_base64_str: [base64, ...], outputs}, or the raw forms the hub loader maps: "
        "{image: base64, meta: {targets: [...]}} (captioning), {video_str: [base64, ...], "
        "question, answer} (video QA); + instructions.json (the images are inside)"
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
        #: INPUT uri -> (files read, files not read): the split's files by first form.
        self._forms: dict[str, tuple[list[str], list[str]]] = {}

    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        self._loc = loc  # where a record without an instruction finds its templates
        return super().samples(loc, unit)

    def units(self, loc: storage.Location) -> list[str]:
        return self._by_form(loc)[0]

    def skipped_units(self, loc: storage.Location) -> list[str]:
        """The files no split reads, and the split's files whose first record has no form
        this source maps (``FORMS``)."""
        return self._by_form(loc)[1]

    def _by_form(self, loc: storage.Location) -> tuple[list[str], list[str]]:
        if loc.uri not in self._forms:
            read, unknown = [], []
            for unit in super().units(loc):
                (unknown if first_form(loc, unit) is None else read).append(unit)
            skipped = sorted([*super().skipped_units(loc), *unknown])
            self._forms[loc.uri] = (read, skipped)
        return self._forms[loc.uri]

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        folder = posixpath.dirname(unit)
        stem = posixpath.splitext(posixpath.basename(unit))[0]
        item_key = f"{folder.removeprefix('data/')}/{stem}#{key}"
        if not isinstance(record, dict):
            raise BadAnnotation(f"record is a {type(record).__name__}, not an object")
        form = record_form(record)
        video = shards.member_ref(unit, key)
        if form == "caption":
            yield from self._caption_items(folder, item_key, video, record)
            return
        if form == "video_qa":
            yield self._video_qa_item(folder, item_key, video, record)
            return
        if form is None:
            fields = ", ".join(sorted(map(str, record))[:6]) or "none"
            raise BadAnnotation(f"a record of no form M3IT's loader maps (fields: {fields})")
        instruction = record.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            instruction = self._draw(folder, item_key)
        inputs = record.get("inputs")
        if inputs is not None and not isinstance(inputs, str):
            raise BadAnnotation(f"'inputs' is a {type(inputs).__name__}, not text")
        answer = require(record, "outputs")
        question = "\n".join(t.strip() for t in (instruction, inputs or "") if t.strip())
        images = tuple(decode_images(record.get("image_base64_str")))
        yield Item.single(item_key, video, question, answer, images=images)

    def _caption_items(
        self, folder: str, item_key: str, video: str, record: dict[str, Any]
    ) -> Iterator[Item]:
        """The loader's captioning form: an instance per target caption, one image."""
        targets = require(record["meta"], "targets", list)
        images = tuple(decode_images(record.get("image"), "image"))
        captions = []
        for k, target in enumerate(targets):
            if not isinstance(target, str) or not target.strip():
                raise BadAnnotation(f"target {k} of 'meta' is empty or not a string")
            captions.append(" ".join(target.split()))
        for k, caption in enumerate(captions):
            key = f"{item_key}/{k}"
            yield Item.single(key, video, self._draw(folder, key), caption, images=images)

    def _video_qa_item(
        self, folder: str, item_key: str, video: str, record: dict[str, Any]
    ) -> Item:
        """The loader's video QA form: the sampled frames, a question and its answer."""
        question = require(record, "question")
        answer = answer_text(record, "answer")
        images = tuple(decode_images(record.get("video_str"), "video_str"))
        prompt = f"{self._draw(folder, item_key)}\n{question}"
        return Item.single(item_key, video, prompt, answer, images=images)

    def _draw(self, folder: str, item_key: str) -> str:
        """An instruction from the dataset's ``instructions.json``, by row id and seed."""
        return prompts.draw(self._instructions(folder), self.sample_id(item_key), self.ctx.seed)

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


def decode_images(value: Any, name: str = "image_base64_str") -> list[bytes]:
    """``image_base64_str`` (or the field ``name``): a list of base64 images (a lone
    string is one image)."""
    strings = [value] if isinstance(value, str) else value
    if not isinstance(strings, list) or not strings:
        raise BadAnnotation(f"{name!r} is missing or holds no image")
    images = []
    for k, text in enumerate(strings):
        if not isinstance(text, str) or not text.strip():
            raise BadAnnotation(f"image {k} of {name!r} is empty or not a string")
        try:
            images.append(base64.b64decode(_DATA_URL.sub("", text.strip()), validate=True))
        except (binascii.Error, ValueError) as e:
            raise BadAnnotation(f"image {k} of {name!r} is not base64: {e}") from None
    return images


#: The record forms read, by the fields that tell them apart (see ``M3IT``).
FORMS = ("instance", "caption", "video_qa")


def record_form(record: dict[str, Any]) -> str | None:
    """Which of ``FORMS`` a record is in; None: none of them."""
    if "image_base64_str" in record or "outputs" in record:
        return "instance"
    if "image" in record and isinstance(record.get("meta"), dict):
        return "caption"
    if "video_str" in record:
        return "video_qa"
    return None


def first_form(loc: storage.Location, unit: str) -> str | None:
    """The form of a file's first record: a file is in one form throughout. A first
    line that is not a JSON object tells nothing: the file is read (its lines become
    error rows), so ``"unparsed"``."""
    with storage.open_read(loc, unit) as f:
        for line in f:
            if line.strip():
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return "unparsed"
                return record_form(record) if isinstance(record, dict) else "unparsed"
    return "unparsed"  # empty: nothing to report
