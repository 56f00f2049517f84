"""mini-ImageNet as seed 001 prepares it for CLIP fine-tuning: ``train/``, ``val/``,
``test/`` of ``<wnid>/*.jpg`` class folders, and ``classnames.txt`` from CLIP."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Iterable, Iterator
from typing import Any

from vidray.io import storage
from vidray.records import Sample
from vidray.schema import Reason
from vidray.sources.annotations import ANNOTATION_SUFFIXES, AnnotationSource, Item, classification
from vidray.sources.base import SourceContext, UnsupportedLayout
from vidray.sources.videos import IMAGE_SUFFIXES

CLASSNAMES = "classnames.txt"
SPLITS = ("train", "val", "test")


class MiniImageNet(AnnotationSource):
    """One row per image of the split's class folders: the question ``What is in this
    photo?`` answered ``a photo of a {classname}.``, the folder's wnid mapped to its name
    by ``classnames.txt`` (lines ``<wnid> <class name>``, the name may hold spaces; a
    ``_`` in it is a space, as CoOp's prompt learner reads names, ``trainers/coop.py``).

    ``label`` is the class's position in ``classnames.txt`` counted from 0, so it does
    not depend on which classes a split holds (mini-ImageNet's splits have disjoint
    classes) nor on a folder listing; with CLIP's 1000-class file (sorted by wnid, as
    CoOp's ImageNet labels are) it is the ImageNet-1k class id. An image whose folder
    is not in ``classnames.txt`` is a ``bad_annotation`` row. Each class folder is one
    shard (``train/n01532829``); row ids are ``mini-imagenet:<split>/<wnid>/<file>``.
    Images are found by their suffix in any case (``.jpg``, ``.JPEG``, ``.png``)."""

    name = "mini-imagenet"
    layout = (
        "INPUT/{train,val,test}/<wnid>/*.jpg (class folders) + INPUT/classnames.txt "
        "(lines '<wnid> <class name>')"
    )
    #: Only for the listing of splits: each split is its folder's class folders.
    annotation_files = {split: (f"{split}/*",) for split in SPLITS}
    videos_dir = ""
    media = "image"

    def __init__(self, ctx: SourceContext | None = None) -> None:
        super().__init__(ctx)
        self._classes: dict[str, tuple[int, str]] | None = None

    def classes(self, loc: storage.Location) -> dict[str, tuple[int, str]]:
        """wnid -> (label, class name), read once; a missing or malformed
        ``classnames.txt`` refuses the run before it starts."""
        if self._classes is None:
            try:
                with storage.open_read(loc, CLASSNAMES) as f:
                    text = io.TextIOWrapper(f, encoding="utf-8-sig").read()
            except FileNotFoundError:
                raise UnsupportedLayout(
                    f"no {CLASSNAMES} at {loc.display(CLASSNAMES)}: {self.name} expects "
                    f"{self.layout}"
                ) from None
            self._classes = parse_classnames(text)
        return self._classes

    def units(self, loc: storage.Location) -> list[str]:
        self.classes(loc)
        split = self.split()
        return [f"{split}/{folder}" for folder in storage.subfolders(loc, split)]

    def skipped_units(self, loc: storage.Location) -> list[str]:
        """Annotation-type files at the top of INPUT (another release's split lists,
        such as ``train.csv``): none of them is read."""
        return storage.list_files(loc, ANNOTATION_SUFFIXES, maxdepth=1)

    def is_unit(self, rel: str) -> bool:
        return False  # a class folder, not a file, is a shard

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        raise NotImplementedError  # samples come from the listing, not from records

    def samples(self, loc: storage.Location, unit: str) -> Iterator[Sample]:
        classes = self.classes(loc)
        wnid = posixpath.basename(unit)
        for rel in storage.list_files(loc, IMAGE_SUFFIXES, unit):
            if wnid not in classes:
                message = f"class folder {wnid!r} is not in {CLASSNAMES}"
                yield Sample(
                    self.sample_id(rel), rel, error=(Reason.BAD_ANNOTATION, message), media="image"
                )
                continue
            label, classname = classes[wnid]
            yield self._group_sample(unit, [classification(rel, rel, label, classname)])


def parse_classnames(text: str) -> dict[str, tuple[int, str]]:
    """``<wnid> <class name>`` lines -> {wnid: (position, name)}; blank lines are
    skipped (a label counts classes, not lines)."""
    classes: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        wnid, *words = line.split()
        # CoOp's prompt learner turns '_' into spaces for every dataset (trainers/coop.py);
        # CLIP's ImageNet names have none, a folder-style file's do.
        name = " ".join(" ".join(words).replace("_", " ").split())
        if not name:
            raise UnsupportedLayout(f"{CLASSNAMES} line {number}: no class name after {wnid!r}")
        if wnid in classes:
            raise UnsupportedLayout(f"{CLASSNAMES} line {number}: {wnid} is listed twice")
        classes[wnid] = (len(classes), name)
    if not classes:
        raise UnsupportedLayout(f"{CLASSNAMES} lists no class")
    return classes
