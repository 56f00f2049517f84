"""What one export is asked to do (``ExportOptions``, ``--split`` parsed by
``parse_split``), the summary it ends with, and how rows are assigned to splits."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Literal

from vidray.export.formats import FORMATS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: Ratios must add up to 1 within this (``0.7,0.2,0.1`` is not exactly 1.0 in floats).
_SUM_TOLERANCE = 1e-6


def parse_split(spec: str) -> tuple[tuple[str, float], ...]:
    """``train=0.8,val=0.1,test=0.1`` -> ``(("train", 0.8), ...)``, checked: distinct
    file-safe names, positive ratios that sum to 1."""
    splits: list[tuple[str, float]] = []
    for part in spec.split(","):
        name, sep, ratio_text = part.strip().partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--split: expected NAME=RATIO[,NAME=RATIO...], got {spec!r}")
        if not _SPLIT_NAME.match(name):
            raise ValueError(f"--split: bad split name {name!r} (letters, digits, - and _)")
        try:
            ratio = float(ratio_text)
        except ValueError:
            raise ValueError(
                f"--split: ratio of {name!r} is not a number: {ratio_text!r}"
            ) from None
        if not (math.isfinite(ratio) and ratio > 0):
            raise ValueError(f"--split: ratio of {name!r} must be > 0, got {ratio_text.strip()}")
        if name in (n for n, _ in splits):
            raise ValueError(f"--split: split {name!r} given twice")
        splits.append((name, ratio))
    total = sum(r for _, r in splits)
    if abs(total - 1.0) > _SUM_TOLERANCE:
        raise ValueError(f"--split: ratios must sum to 1, got {total:g} ({spec})")
    return tuple(splits)


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    """One export, as the CLI builds it; checked at construction."""

    format: str  # a name in FORMATS
    output: str
    dest: str
    name: str | None = None  # default: the output's source name
    split: tuple[tuple[str, float], ...] | None = None  # None: one file, no split
    split_by: Literal["clip", "video"] = "clip"
    seed: int = 0
    overwrite: bool = False  # replace record files / entries another OUTPUT wrote
    absolute_paths: bool = False  # absolute frame paths in records (formats that offer it)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown export format {self.format!r}; one of {tuple(FORMATS)}")
        if self.split_by not in ("clip", "video"):
            raise ValueError(f"--split-by must be clip or video, got {self.split_by!r}")
        if self.name is not None and not _NAME.match(self.name):
            raise ValueError(f"--name {self.name!r}: use letters, digits, '.', '-' and '_'")
        if self.dest.startswith("s3://") or (
            "://" in self.dest and not self.dest.startswith("file://")
        ):
            raise ValueError(
                f"DEST must be a local directory (trainers read local files): {self.dest}"
            )


@dataclass
class ExportSummary:
    format: str
    dest: str
    files: list[str] = field(default_factory=list)  # record/index files, relative to DEST
    records: dict[str, int] = field(default_factory=dict)  # per split ("" when unsplit)
    frame_folders: int = 0
    frame_files: int = 0

    def describe(self) -> str:
        total = sum(self.records.values())
        if list(self.records) == [""]:
            splits = f"no split ({self.files[0]})"
        else:
            splits = "splits " + ", ".join(f"{k}={v}" for k, v in self.records.items())
        unit = FORMATS[self.format].unit
        return (
            f"exported {total} {unit} ({self.format}) to {self.dest}: "
            f"{self.frame_folders} frame folders, {self.frame_files} frame files; {splits}"
        )


# --------------------------------------------------------------------------- splits


def group_key(video: str, clip_start: float | None, clip_end: float | None) -> str:
    """The split key of a clip: rows with the same video and span share it."""
    return json.dumps([video, clip_start, clip_end])


def assign_split(key: str, splits: tuple[tuple[str, float], ...], seed: int) -> str:
    """The split of ``key``: sha256(seed, key) read as a number in [0, 1), placed on the
    cumulative ratios. A pure function of (seed, key), so it is the same on every run,
    and each key's draw is independent of every other row's."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    edge = 0.0
    for name, ratio in splits:
        edge += ratio
        if u < edge:
            return name
    return splits[-1][0]  # ratios summing to 1 - epsilon: the rest goes to the last
