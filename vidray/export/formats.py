"""The export formats, one class each, and ``FORMATS``, the registry built from them.

A format declares everything that differs between exports: its record builder
(``record``, and ``add``, which the export calls once per row with where the row's frames
went), its validator (``validate``: what its trainer checks), the image files a record
makes its trainer read (``referenced_files``: the read-back check hashes them), its
record file suffix, its ``dataset_info.json`` entry (None where it has none), where its
frame folders go and its ``vidray export FORMAT`` help. Nothing outside these classes
asks which format an export is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from vidray.export.errors import ExportError
from vidray.export.files import FRAMES_DIR
from vidray.export.rows import is_image_row
from vidray.export.validate import (
    _check_alternating,
    _check_files,
    _check_folder,
    _resolve,
    folder_files,
)

#: Where ``llava`` puts video frame folders: stock LLaVA-NeXT (``llava/train/train.py``,
#: ``LazySupervisedDataset._get_item``) reads a folder of frames only when the joined
#: path contains ``shareVideoGPTV``; any other path is decoded as a video file, which
#: fails on a folder, and the sample is skipped for the next one.
LLAVA_VIDEO_DIR = f"{FRAMES_DIR}/shareVideoGPTV"
IMAGE_TOKEN = "<image>"
VIDEO_TOKEN = "<video>"
LEAD = IMAGE_TOKEN + "\n"

#: Roles of the vidray conversation turns and their LLaMA-Factory names.
ROLES = {"human": "user", "gpt": "assistant"}


@dataclass(frozen=True)
class Placement:
    """Where one row's frames went in DEST, as its record refers to them."""

    folder: str  # the frame folder, relative to DEST
    paths: list[str]  # its frame files in order, relative to DEST
    shown: list[str]  # the same as records write them (absolute with --absolute-paths)
    split: str  # the row's split of the export ("" without --split)
    dataset_split: str  # the converted dataset split (formats with uses_dataset_split)
    stamps: list[float]  # the frames' timestamps, sorted (empty for an image row)
    digest: str  # the content hash of the frames (``frames_digest``)


class ExportFormat:
    """One export format. Subclasses set the class attributes and the record builder,
    validator and referenced files; the export makes one instance per run, so ``add``
    may keep state (``frames`` collects one index line per folder)."""

    name: ClassVar[str]
    #: ``vidray export FORMAT --help``: what it writes and how a trainer reads it.
    help: ClassVar[str]
    #: The record file: ``DEST/NAME{suffix}`` (``NAME_<split>{suffix}`` with ``--split``).
    suffix: ClassVar[str] = ".json"
    #: JSON Lines instead of a JSON list.
    lines: ClassVar[bool] = False
    #: What the summary line calls the records.
    unit: ClassVar[str] = "records"
    #: Offers ``--absolute-paths`` (its records hold frame paths a trainer resolves).
    absolute_paths: ClassVar[bool] = False
    #: Needs the dataset split OUTPUT was converted from (``Placement.dataset_split``).
    uses_dataset_split: ClassVar[bool] = False

    def frames_root(self, images: bool) -> str:
        """Where this format's frame folders go, relative to DEST."""
        return FRAMES_DIR

    @staticmethod
    def dataset_info(file_name: str, images: bool) -> dict[str, Any] | None:
        """The ``dataset_info.json`` entry of the record file ``file_name``, or None: the
        format registers nothing there."""
        return None

    def add(self, row: dict[str, Any], placed: Placement) -> dict[str, Any] | None:
        """The record of ``row`` to write now into its split's file, or None (kept for
        ``finish``)."""
        raise NotImplementedError

    def finish(self) -> list[tuple[str, dict[str, Any], str]]:
        """Records written after the last row, as (split, record, frames digest)."""
        return []

    @staticmethod
    def validate(record: dict[str, Any], base: Path, where: str = "record") -> None:
        """Raise ExportError where ``record`` (read back from its file) would not load."""
        raise NotImplementedError

    @staticmethod
    def referenced_files(record: dict[str, Any], base: Path) -> list[Path]:
        """The image files a (validated) record makes its trainer read, in the order it
        reads them: a frame folder as its loader lists it (files, sorted by name)."""
        raise NotImplementedError


def _turns(row: dict[str, Any]) -> list[dict[str, str]]:
    turns = row["conversations"] or []
    if not turns or turns[0]["from"] != "human" or not (turns[0]["value"] or "").startswith(LEAD):
        raise ExportError(
            f"row {row['id']}: the first turn must be the human turn starting with "
            f"{LEAD!r} (not a vidray output row?)"
        )
    return turns


def dataset_info_entry(file_name: str, media: str = "videos") -> dict[str, Any]:
    """A ``dataset_info.json`` entry exactly in the form of seed 001 (``media``
    ``videos``), or of LLaMA-Factory's ``mllm_demo`` (``images``)."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", media: media},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }


class LlamaFactoryFormat(ExportFormat):
    """sharegpt records, registered in ``dataset_info.json`` (seed 001's form)."""

    name = "llamafactory"
    help = (
        "sharegpt records {messages, videos: [[frame paths]]} (image sets: "
        "{messages, images: [paths]}, one <image> per image) in DEST/NAME.json and their "
        "entries in DEST/dataset_info.json (use dataset_dir: DEST)"
    )
    absolute_paths = True

    @staticmethod
    def dataset_info(file_name: str, images: bool) -> dict[str, Any] | None:
        return dataset_info_entry(file_name, "images" if images else "videos")

    @staticmethod
    def record(row: dict[str, Any], frame_paths: list[str]) -> dict[str, Any]:
        """A sharegpt record: the leading ``<image>\\n`` becomes one ``<video>`` token (so
        only the first user turn carries it) and ``videos`` holds one video as its frame
        list; for an image row, one ``<image>`` token per image and ``images`` the image
        paths (the form of LLaMA-Factory's ``mllm_demo``)."""
        image = is_image_row(row)
        lead = IMAGE_TOKEN * len(frame_paths) if image else VIDEO_TOKEN
        messages = []
        for k, turn in enumerate(_turns(row)):
            role = ROLES.get(turn["from"])
            if role is None:
                raise ExportError(f"row {row['id']}: turn {k} has role {turn['from']!r}")
            value = turn["value"]
            if k == 0:
                value = lead + value[len(LEAD) :]
            messages.append({"role": role, "content": value})
        if image:
            return {"messages": messages, "images": frame_paths}
        return {"messages": messages, "videos": [frame_paths]}

    def add(self, row: dict[str, Any], placed: Placement) -> dict[str, Any] | None:
        return self.record(row, placed.shown)

    @staticmethod
    def validate(record: dict[str, Any], base: Path, where: str = "record") -> None:
        """What LLaMA-Factory checks (and what makes it skip or fail a sample): roles that
        alternate user/assistant, one ``<video>`` token per entry of ``videos`` and one
        ``<image>`` token per entry of ``images`` (a record has one of the two lists), and
        every file present."""
        messages = record.get("messages")
        videos, images = record.get("videos", []), record.get("images", [])
        if not isinstance(messages, list) or not ("videos" in record) ^ ("images" in record):
            raise ExportError(f"{where}: needs a 'messages' list and a 'videos' or 'images' list")
        if not isinstance(videos, list) or not isinstance(images, list):
            raise ExportError(f"{where}: 'videos' and 'images' must be lists")
        turns = [(m.get("role"), m.get("content")) for m in messages if isinstance(m, dict)]
        if len(turns) != len(messages):
            raise ExportError(f"{where}: a message is not an object")
        _check_alternating(turns, "user", "assistant", where)
        text = "".join(content for _, content in turns)
        for token, items, what in (
            (VIDEO_TOKEN, videos, "videos"),
            (IMAGE_TOKEN, images, "images"),
        ):
            if text.count(token) != len(items):
                raise ExportError(
                    f"{where}: {text.count(token)} {token} tokens for {len(items)} {what}"
                )
        for video in videos:
            _check_files(video, base, where, "a video")
        if images:
            _check_files(images, base, where, "'images'")

    @staticmethod
    def referenced_files(record: dict[str, Any], base: Path) -> list[Path]:
        paths = record["videos"][0] if record.get("videos") else record["images"]
        return [_resolve(base, p) for p in paths]


class LlavaFormat(ExportFormat):
    """The recipe's records (seed 000), video frame folders under ``LLAVA_VIDEO_DIR``."""

    name = "llava"
    help = (
        "the recipe's records {id, conversations, video, query} in DEST/NAME.json; "
        "video is a frame folder relative to DEST under frames/shareVideoGPTV/ (stock "
        "LLaVA-NeXT reads frame folders only there; use DEST as video_folder, with "
        "--force_sample True --frames_upbound N); image sets: "
        "image, the image's path (use DEST as image_folder)"
    )

    def frames_root(self, images: bool) -> str:
        return FRAMES_DIR if images else LLAVA_VIDEO_DIR

    @staticmethod
    def record(row: dict[str, Any], folder: str, frame_paths: list[str]) -> dict[str, Any]:
        """The recipe's record (seed 000) with the row id; ``video`` is the frame folder
        (relative to DEST, under ``LLAVA_VIDEO_DIR``). An
        image row has ``image`` instead: its path (LLaVA's single-image record), or the list
        of its paths with one ``<image>\\n`` per image leading the first human turn."""
        turns = [{"from": t["from"], "value": t["value"]} for t in _turns(row)]
        query = row["query"] if row["query"] is not None else turns[0]["value"][len(LEAD) :]
        if not is_image_row(row):
            return {"id": row["id"], "conversations": turns, "video": folder,
                    "query": query}  # fmt: skip
        if len(frame_paths) > 1:
            turns[0]["value"] = LEAD * (len(frame_paths) - 1) + turns[0]["value"]
        image: str | list[str] = frame_paths[0] if len(frame_paths) == 1 else frame_paths
        return {"id": row["id"], "conversations": turns, "image": image, "query": query}

    def add(self, row: dict[str, Any], placed: Placement) -> dict[str, Any] | None:
        return self.record(row, placed.folder, placed.paths)

    @staticmethod
    def validate(record: dict[str, Any], base: Path, where: str = "record") -> None:
        """The recipe's record: human/gpt turns, ``<image>\\n`` leading the first human
        turn and appearing once per image in all (a video counts one), and a frame folder
        (or the image files of ``image``) that exists under DEST."""
        media = "image" if "image" in record else "video"
        for key in ("id", "conversations", media, "query"):
            if key not in record:
                raise ExportError(f"{where}: missing {key!r}")
        convs = record["conversations"]
        if not isinstance(convs, list) or not all(isinstance(t, dict) for t in convs):
            raise ExportError(f"{where}: 'conversations' must be a list of objects")
        turns = [(t.get("from"), t.get("value")) for t in convs]
        _check_alternating(turns, "human", "gpt", where)
        if not turns[0][1].startswith(LEAD):
            raise ExportError(f"{where}: the human turn does not start with {LEAD!r}")
        tokens = sum(v.count(IMAGE_TOKEN) for _, v in turns)
        if media == "image":
            image = record["image"]
            paths = [image] if isinstance(image, str) else image
            _check_files(paths, base, where, "'image'")
            if tokens != len(paths) or not turns[0][1].startswith(LEAD * len(paths)):
                raise ExportError(f"{where}: {tokens} {IMAGE_TOKEN} tokens for {len(paths)} images")
            return
        if tokens != 1:
            raise ExportError(f"{where}: {tokens} {IMAGE_TOKEN} tokens for 1 video")
        if not isinstance(record["video"], str):
            raise ExportError(f"{where}: 'video' must be a path")
        _check_folder(base, record["video"], where)

    @staticmethod
    def referenced_files(record: dict[str, Any], base: Path) -> list[Path]:
        if "image" not in record:
            return folder_files(base, record["video"])
        paths = [record["image"]] if isinstance(record["image"], str) else record["image"]
        return [_resolve(base, p) for p in paths]


class FramesFormat(ExportFormat):
    """The frame folders themselves, and a JSON Lines index of them."""

    name = "frames"
    help = (
        "DEST/frames/<clip>/image_00001.jpg... and an index DEST/NAME_index.jsonl "
        "(one line per folder: video, clip, row ids)"
    )
    suffix = "_index.jsonl"
    lines = True
    unit = "index lines"

    def __init__(self) -> None:
        #: folder -> (split, index line, frames digest), the line's ids grown row by row.
        self._index: dict[str, tuple[str, dict[str, Any], str]] = {}

    def add(self, row: dict[str, Any], placed: Placement) -> dict[str, Any] | None:
        _turns(row)  # the same input check as the other formats
        if placed.folder not in self._index:
            entry = {
                "folder": placed.folder,
                "source": row["source"],
                "video": row["video"],
                "clip_start": row["clip_start"],
                "clip_end": row["clip_end"],
                "num_frames": len(placed.paths),
                "frame_timestamps": placed.stamps,
                "width": row["width"],
                "height": row["height"],
                "ids": [],
            }
            self._index[placed.folder] = (placed.split, entry, placed.digest)
        self._index[placed.folder][1]["ids"].append(row["id"])
        return None

    def finish(self) -> list[tuple[str, dict[str, Any], str]]:
        return list(self._index.values())

    @staticmethod
    def validate(record: dict[str, Any], base: Path, where: str = "entry") -> None:
        """An index line: its folder holds exactly ``num_frames`` images named in order,
        one timestamp each (none for images), and at least one row id."""
        for key in ("folder", "video", "ids", "num_frames", "frame_timestamps"):
            if key not in record:
                raise ExportError(f"{where}: missing {key!r}")
        if not record["ids"]:
            raise ExportError(f"{where}: no row ids")
        if len(record["frame_timestamps"]) not in (0, record["num_frames"]):
            n, stamps = record["num_frames"], len(record["frame_timestamps"])
            raise ExportError(f"{where}: {n} frames but {stamps} timestamps")
        _check_folder(base, record["folder"], where, record["num_frames"])

    @staticmethod
    def referenced_files(record: dict[str, Any], base: Path) -> list[Path]:
        return folder_files(base, record["folder"])


class ClipFormat(ExportFormat):
    """Image-text pairs, with the ``file_name``-only entry seed 001 gives CLIP."""

    name = "clip"
    help = (
        "image-text pairs {image, text, label?, classname?, split} of an image set in "
        "DEST/NAME.json, and its file_name entry in DEST/dataset_info.json (CLIP, CN-CLIP)"
    )
    absolute_paths = True
    uses_dataset_split = True

    @staticmethod
    def dataset_info(file_name: str, images: bool) -> dict[str, Any] | None:
        # seed 001: "CLIP/CN-CLIP/AdaCLIP: the JSON filename only"
        return {"file_name": file_name}

    @staticmethod
    def record(row: dict[str, Any], frame_paths: list[str], split: str) -> dict[str, Any]:
        """An image-text pair for CLIP-style training: the row's one image and its answer
        (the caption, or ``a photo of a {classname}.``), its class where it has one, and
        the split it belongs to."""
        turns = _turns(row)
        if not is_image_row(row):
            raise ExportError(
                f"row {row['id']}: clip takes image rows, this is a video row (the frames "
                "format writes video frame folders)"
            )
        if len(frame_paths) != 1:
            raise ExportError(
                f"row {row['id']}: clip takes one image per row, this one has "
                f"{len(frame_paths)} (export it with llamafactory or llava)"
            )
        if len(turns) != 2:
            raise ExportError(
                f"row {row['id']}: clip takes one (question, answer) pair per row, this one "
                f"has {len(turns)} turns (convert with --qa-mode split)"
            )
        record: dict[str, Any] = {"image": frame_paths[0], "text": turns[1]["value"]}
        if row["label"] is not None:
            record["label"] = row["label"]
        if row["classname"] is not None:
            record["classname"] = row["classname"]
        record["split"] = split
        return record

    def add(self, row: dict[str, Any], placed: Placement) -> dict[str, Any] | None:
        return self.record(row, placed.shown, placed.split or placed.dataset_split)

    @staticmethod
    def validate(record: dict[str, Any], base: Path, where: str = "record") -> None:
        """An image-text pair: an image file that exists, a text, a split name, and the
        class id (a whole number) and name where given."""
        if set(record) - {"image", "text", "label", "classname", "split"}:
            raise ExportError(f"{where}: unexpected keys {sorted(record)}")
        for key in ("image", "text", "split"):
            if not isinstance(record.get(key), str) or not record[key].strip():
                raise ExportError(f"{where}: {key!r} must be a non-empty string")
        label = record.get("label")
        if "label" in record and (not isinstance(label, int) or isinstance(label, bool)):
            raise ExportError(f"{where}: 'label' must be a whole number, got {label!r}")
        if "classname" in record and not isinstance(record["classname"], str):
            raise ExportError(f"{where}: 'classname' must be a string")
        _check_files([record["image"]], base, where, "'image'")

    @staticmethod
    def referenced_files(record: dict[str, Any], base: Path) -> list[Path]:
        return [_resolve(base, record["image"])]


#: The export formats by name, in the order ``vidray export --help`` lists them.
FORMATS: dict[str, type[ExportFormat]] = {
    cls.name: cls for cls in (LlamaFactoryFormat, LlavaFormat, FramesFormat, ClipFormat)
}
