"""Flickr5k (a Kaggle image set of seed 001), captions in BLIP's form."""

from __future__ import annotations

from vidray.sources.image_captions import ImageCaptions, in_folder

IMAGES = "flickr5k-images"
SPLITS = ("train", "val", "test")


class Flickr5k(ImageCaptions):
    """One row per caption (see ``ImageCaptions``; ids ``flickr5k:<image>#<k>``), from
    ``flickr5k_{train,val,test}.json.json``: the double suffix is how the files are
    published (seed 001's tree); a renamed ``flickr5k_<split>.json`` is read when the
    published name is absent. (?) No primary copy of these files was available: their
    records are read in BLIP's form like the other sets of the same Kaggle collection
    (``image`` and ``caption``, a string or a list); an image path without a folder is
    looked up in ``flickr5k-images/``."""

    name = "flickr5k"
    layout = (
        f"INPUT/flickr5k_{{train,val,test}}.json.json  [{{image: {IMAGES}/<name>.jpg, caption: "
        f"str or [str, ...]}}] (BLIP form; the double suffix as published); images: "
        f"INPUT/{IMAGES}/*.jpg"
    )
    annotation_files = {s: (f"flickr5k_{s}.json.json", f"flickr5k_{s}.json") for s in SPLITS}

    def image_path(self, image: str) -> str:
        return in_folder(image, IMAGES)
