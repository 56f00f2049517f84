"""Flickr30k with BLIP's split files, as seed 001 prepares it for CLIP fine-tuning."""

from __future__ import annotations

from vidray.sources.image_captions import ImageCaptions, in_folder

IMAGES = "flickr30k-images"


class Flickr30k(ImageCaptions):
    """One row per caption (see ``ImageCaptions``; ids ``flickr30k:<image>#<k>``), from
    ``flickr30k_{train,val,test}.json`` in BLIP's form (train: a record per caption;
    val, test: a record per image with its five captions). Image paths are
    ``flickr30k-images/<id>.jpg`` relative to INPUT; a bare ``<id>.jpg`` is looked up in
    ``flickr30k-images/``."""

    name = "flickr30k"
    layout = (
        f"INPUT/flickr30k_{{train,val,test}}.json  [{{image: {IMAGES}/<id>.jpg, caption: str "
        f"or [str, ...]}}] (BLIP form); images: INPUT/{IMAGES}/*.jpg"
    )
    annotation_files = {s: (f"flickr30k_{s}.json",) for s in ("train", "val", "test")}

    def image_path(self, image: str) -> str:
        return in_folder(image, IMAGES)
