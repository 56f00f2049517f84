"""Caltech101 with CoOp's split (``split_zhou_Caltech101.json``), as seed 001 prepares it
for CLIP fine-tuning: one row per image of the split, with its class."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from typing import Any

from vidray.io import storage
from vidray.sources.annotations import AnnotationSource, Item, classification
from vidray.sources.base import BadAnnotation

SPLIT_FILE = "split_zhou_Caltech101.json"
IMAGES = "101_ObjectCategories"
#: CoOp's renames of Caltech101's folders (``datasets/caltech101.py``, ``NEW_CNAMES``),
#: applied where the split file still carries the folder's name.
NEW_CNAMES = {
    "airplanes": "airplane",
    "Faces": "face",
    "Leopards": "leopard",
    "Motorbikes": "motorbike",
}


class Caltech101(AnnotationSource):
    """One row per ``[path, label, classname]`` entry of the split: the question
    ``What is in this photo?`` answered ``a photo of a {classname}.`` (CoOp's prompt), the
    label and class name kept as columns. The class name is the one CoOp prompts with:
    the split keeps folder-style names (``electric_guitar``) and CoOp's prompt learner
    turns ``_`` into spaces (``trainers/coop.py``: ``name.replace("_", " ")``), so the
    row reads ``a photo of a electric guitar.`` and ``classname`` is ``electric guitar``;
    a folder name CoOp renames (``NEW_CNAMES``: ``Faces`` -> ``face``, ...) is renamed
    where the split still carries it.

    The split is CoOp's (Zhou et al.): ``{"train"|"val"|"test": [[path, label,
    classname], ...]}``, paths relative to ``101_ObjectCategories/`` (a leading
    ``101_ObjectCategories/`` is accepted too). Its class names are CoOp's, not the
    folders' (``Faces/...`` is ``face``); ``BACKGROUND_Google`` and ``Faces_easy`` are in
    no split, so their images are not read. Row ids are ``caltech101:<path>``."""

    name = "caltech101"
    layout = (
        f"INPUT/{SPLIT_FILE}  {{train|val|test: [[<class>/image_NNNN.jpg, label, "
        f"classname], ...]}} (CoOp's split); images: INPUT/{IMAGES}/<class>/image_NNNN.jpg"
    )
    annotation_files = {split: (SPLIT_FILE,) for split in ("train", "val", "test")}
    videos_dir = IMAGES
    media = "image"

    def records(self, loc: storage.Location, unit: str) -> Iterator[tuple[str, Any]]:
        """The entries of the chosen split only, keyed ``<split>/<index>``."""
        split = self.split()
        try:
            doc = self.read_json(loc, unit)
        except BadAnnotation as e:
            yield "", e
            return
        entries = doc.get(split) if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            yield "", BadAnnotation(f"no {split!r} list in {unit}")
            return
        for index, entry in enumerate(entries):
            yield f"{split}/{index}", entry

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        if not isinstance(record, list) or len(record) != 3:
            raise BadAnnotation(f"entry is not [path, label, classname]: {record!r:.80}")
        path, label, classname = record
        if not isinstance(path, str) or not path.strip():
            raise BadAnnotation(f"the path {path!r} is not a file name")
        if not isinstance(label, int) or isinstance(label, bool) or label < 0:
            raise BadAnnotation(f"the label {label!r} is not a class id")
        if not isinstance(classname, str) or not classname.strip():
            raise BadAnnotation(f"the class name {classname!r} is empty")
        path = posixpath.normpath(path.strip().lstrip("/")).removeprefix(IMAGES + "/")
        classname = coop_classname(classname)
        yield classification(path, path, label, classname)


def coop_classname(name: str) -> str:
    """The class name CoOp prompts with: its rename of the folder (``NEW_CNAMES``), then
    ``_`` as spaces (``trainers/coop.py``), whitespace collapsed."""
    name = " ".join(name.split())
    return " ".join(NEW_CNAMES.get(name, name).replace("_", " ").split())
