"""MSCOCO 2014 with the Karpathy splits in BLIP's form, as seed 001 prepares it for CLIP
fine-tuning: ``train2014/``, ``val2014/`` and the split files next to them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from vidray.io import storage
from vidray.sources.base import BadAnnotation
from vidray.sources.image_captions import ImageCaptions, in_folder

#: ``COCO_val2014_000000391895.jpg`` lives in ``val2014/``.
_COCO_NAME = re.compile(r"^COCO_(train2014|val2014)_\d+\.\w+$")


class MSCOCO2014(ImageCaptions):
    """One row per caption (see ``ImageCaptions``; ids ``mscoco2014:<image>#<k>``).

    Splits are Karpathy's: ``train`` reads ``captions_train.json`` (seed 001's name; or
    BLIP's own ``coco_karpathy_train.json`` when that is absent), ``val`` and ``test``
    ``coco_karpathy_{val,test}.json``. Karpathy's train holds ``val2014`` images too
    (restval), so image paths keep their folder. (?) The seed's ``captions_train.json``
    comes from a Kaggle copy not checked here; it is read in BLIP's form, or in COCO's
    own caption form ``{"images": [{id, file_name}], "annotations": [{image_id,
    caption}]}`` should it be that. A bare ``COCO_val2014_*.jpg`` name is looked up in
    the folder its name gives."""

    name = "mscoco2014"
    layout = (
        "INPUT/{captions_train,coco_karpathy_val,coco_karpathy_test}.json  [{image: "
        "val2014/COCO_val2014_....jpg, caption: str or [str, ...]}] (Karpathy splits, BLIP "
        "form); images: INPUT/{train2014,val2014}/"
    )
    annotation_files = {
        "train": ("captions_train.json", "coco_karpathy_train.json"),
        "val": ("coco_karpathy_val.json",),
        "test": ("coco_karpathy_test.json",),
    }

    def image_path(self, image: str) -> str:
        match = _COCO_NAME.match(image)
        return in_folder(image, match[1]) if match else image

    def records(self, loc: storage.Location, unit: str) -> Iterator[tuple[str, Any]]:
        try:
            doc = self.read_json(loc, unit)
        except BadAnnotation as e:
            yield "", e
            return
        if isinstance(doc, dict) and "annotations" in doc:
            yield from _coco_form(doc)
        elif isinstance(doc, list):
            yield from ((str(i), r) for i, r in enumerate(doc))
        else:
            yield (
                "",
                BadAnnotation(
                    "neither a list of {image, caption} (BLIP) nor {images, annotations} (COCO)"
                ),
            )


def _coco_form(doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """COCO's caption file as BLIP records: each annotation with its image's file."""
    files = {}
    for image in doc.get("images") or []:
        if isinstance(image, dict) and "id" in image and isinstance(image.get("file_name"), str):
            files[image["id"]] = image["file_name"]
    annotations = doc.get("annotations")
    if not isinstance(annotations, list):
        yield "annotations", BadAnnotation("'annotations' is not a list")
        return
    for index, ann in enumerate(annotations):
        key = f"annotations/{index}"
        if not isinstance(ann, dict) or ann.get("image_id") not in files:
            got = ann.get("image_id") if isinstance(ann, dict) else ann
            yield key, BadAnnotation(f"annotation's image_id {got!r:.40} is in no 'images' entry")
            continue
        yield key, {"image": files[ann["image_id"]], "caption": ann.get("caption")}
