"""Fixtures in each dataset's native layout: one module per source, named after it.

Each module defines ``build(root: Path) -> Expected``: it writes a small copy of the
dataset as published (field names and quirks included, per the project's format notes)
under ``root`` and says exactly which rows and error rows a conversion must produce.
``tests/sources/test_source_fixtures.py`` converts every one of them with Ray, from local disk
and from the local S3 server, and holds every row to :func:`check_rows`. A per-source test
module declares ``SOURCE = "<name>"`` and gets the built fixture (``fixture``), a fresh copy
(``fresh``) and :class:`Harness` (``harness``) from ``tests/sources/conftest.py``.
"""

from __future__ import annotations

import csv
import functools
import importlib
import io
import json
import pkgutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from vidray import synth

if TYPE_CHECKING:
    from vidray.records import Conversation
    from vidray.sources.base import Sample


@dataclass
class Expected:
    """What converting a fixture must give."""

    #: Ids of the data rows, exactly.
    rows: set[str]
    #: Error row id -> reason, exactly.
    errors: dict[str, str] = field(default_factory=dict)
    #: Extra ``ConvertOptions`` fields (``videos`` is given relative to the fixture
    #: root and made absolute / turned into an S3 URI by the test).
    options: dict[str, Any] = field(default_factory=dict)
    #: Deeper check of the data rows, given them indexed by id (see :func:`assert_row`).
    check: Callable[[dict[str, dict[str, Any]]], None] | None = None
    #: Annotation-type files the source does not read, as ``_SUCCESS`` reports them.
    skipped: list[str] = field(default_factory=list)

    def assert_rows(self, rows: list[dict[str, Any]], errors: list[dict[str, Any]]) -> None:
        """``rows`` and ``errors`` (one conversion's) are exactly the promised ones, each
        id once."""
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), "duplicate row ids"
        assert set(ids) == self.rows
        assert len(errors) == len(self.errors), "duplicate error ids"
        assert reasons(errors) == self.errors


#: The colours of the fixture images (a row's image is told by its mean colour).
RED, GREEN, BLUE = (200, 40, 40), (40, 190, 60), (30, 60, 210)


@functools.cache
def mp4(seconds: float = 4.0, fps: int = 10, seed: int = 0) -> bytes:
    """A real H.264 mp4 of ``seconds`` at ``fps`` with the frame index drawn in."""
    return synth.encode_mp4(
        synth.VideoSpec(num_frames=round(seconds * fps), fps=fps, width=96, height=64, seed=seed)
    )


@functools.cache
def image_bytes(
    width: int = 64,
    height: int = 48,
    color: tuple[int, int, int] = (200, 40, 40),
    fmt: str = "JPEG",
) -> bytes:
    """A real JPEG or PNG of ``color`` with mild noise (so a cut file loses image data,
    not only padding); its mean colour stays ``color`` within a few levels."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(sum(color) + width * 7 + height)
    noise = rng.integers(-12, 13, size=(height, width, 3))
    pixels = np.clip(np.array(color)[None, None, :] + noise, 0, 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def write_image(
    path: Path,
    width: int = 64,
    height: int = 48,
    color: tuple[int, int, int] = (200, 40, 40),
    cut: bool = False,
) -> Path:
    """A real image at ``path``, PNG or JPEG after its suffix; with ``cut``, only its
    first half (see :func:`truncated`)."""
    fmt = "PNG" if path.suffix.lower() == ".png" else "JPEG"
    data = image_bytes(width, height, color, fmt)
    return write_bytes(path, truncated(data) if cut else data)


def truncated(data: bytes) -> bytes:
    """The first half of a file: an interrupted download."""
    return data[: len(data) // 2]


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` and that holds no pixels: what
    a hostile or broken file looks like to a decoder before it reads any data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def mean_color(jpeg: bytes) -> tuple[int, int, int]:
    """The mean colour of an encoded image, to tell which image a row holds."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as image:
        pixels = np.asarray(image.convert("RGB"), dtype="float64")
    r, g, b = pixels.reshape(-1, 3).mean(axis=0)
    return round(r), round(g), round(b)


def same_color(jpeg: bytes, color: tuple[int, int, int], tolerance: int = 8) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(mean_color(jpeg), color, strict=True))


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_video(path: Path, seconds: float = 4.0, fps: int = 10, seed: int = 0) -> Path:
    return write_bytes(path, mp4(seconds, fps, seed))


def write_videos(folder: Path, seconds: dict[str, float], first_seed: int = 0) -> None:
    """A real mp4 per name (a path under ``folder``) of that many seconds, their seeds
    ``first_seed``, ``first_seed + 1``, ... in the order given (so each shows other pixels)."""
    for seed, (name, length) in enumerate(seconds.items(), start=first_seed):
        write_video(folder / name, seconds=length, seed=seed)


def write_json(path: Path, value: Any) -> Path:
    return write_bytes(path, json.dumps(value, indent=1).encode())


def write_jsonl(path: Path, records: list[Any], raw_lines: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(r) for r in records] + list(raw_lines)
    return write_bytes(path, ("\n".join(lines) + "\n").encode())


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]], schema: pa.Schema | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def builders() -> dict[str, Callable[[Path], Expected]]:
    """Source name -> fixture builder, one per module of this package."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[info.name.replace("_", "-")] = module.build
    return dict(sorted(found.items()))


def source_samples(name: str, root: Path, **ctx: Any) -> list[Sample]:
    """Every sample of every annotation unit of the split ``ctx`` picks, read from
    ``root`` by source ``name`` with ``SourceContext.of(**ctx)`` (no decoding)."""
    from vidray import sources
    from vidray.io import storage

    src = sources.get(name, sources.SourceContext.of(**ctx))
    loc = storage.location(str(root))
    return [s for unit in src.units(loc) for s in src.samples(loc, unit)]


def convert_in_process(name: str, root: Path, out: Path, **options: Any) -> tuple[list, list]:
    """Convert a fixture without Ray: the pipeline's own reader and decode stage called
    in this process (fast, for per-source tests). Returns (data rows, error rows)."""
    from vidray import output as vout
    from vidray.config import ConvertOptions
    from vidray.io import storage
    from vidray.media.sampling import SamplingPolicy
    from vidray.plan import build_source
    from vidray.read import read_units
    from vidray.stage import ConvertStage, StageConfig

    if "videos" in options:
        options["videos"] = str(root / options["videos"])
    options.setdefault("sampling", SamplingPolicy(num_frames=4))
    options.setdefault("size", 32)
    opts = ConvertOptions.of(
        source=name,
        input=str(root),
        output=str(out),
        samples_per_file=3,
        progress=False,
        **options,
    )
    source = build_source(opts)
    stage = ConvertStage(StageConfig.from_options(opts, str(out), source, str(root)))
    try:
        for unit in source.units(storage.location(str(root))):
            for block in read_units(name, source.ctx, str(root), unit, None, 3):
                stage(block)
    finally:
        stage.decoder.close()
    return vout.read_output(str(out)).to_pylist(), vout.read_output(str(out), "errors").to_pylist()


def turn_values(row: dict[str, Any]) -> list[str]:
    """The values of a row's conversation turns, in order."""
    return [t["value"] for t in row["conversations"]]


_ANY: Any = object()


def assert_row(
    row: dict[str, Any], turns: list[str] = _ANY, clip: tuple[Any, Any] = _ANY, **columns: Any
) -> None:
    """``row``'s turn values are ``turns``, its ``(clip_start, clip_end)`` is ``clip``, and
    each named column holds its value (each only when given)."""
    if turns is not _ANY:
        assert turn_values(row) == turns, row["id"]
    if clip is not _ANY:
        assert (row["clip_start"], row["clip_end"]) == clip, row["id"]
    for column, value in columns.items():
        assert row[column] == value, f"{row['id']}: {column}"


def rows_of(found: list[Sample], clip: bool = False) -> dict[str, tuple]:
    """Conversation id -> (video, turns, query) of every conversation of ``found``
    (with ``clip``: (video, clip, turns, query))."""
    if clip:
        return {c.id: (s.video, s.clip, c.turns, c.query) for s in found for c in s.conversations}
    return {c.id: (s.video, c.turns, c.query) for s in found for c in s.conversations}


def reasons(errors: list[dict[str, Any]]) -> dict[str, str]:
    """Error row id -> reason."""
    return {e["id"]: e["reason"] for e in errors}


def indexed(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows (data or error rows) indexed by id; an id seen twice fails."""
    indexed = {r["id"]: r for r in rows}
    assert len(indexed) == len(rows), "duplicate ids"
    return indexed


def check_rows(name: str, rows: list[dict[str, Any]], errors: list[dict[str, Any]]) -> None:
    """What every source's output must satisfy, whatever its fixture: ids unique, rows
    of this source with JPEG frames, image rows without a time axis, video rows with one
    ascending timestamp per frame inside their clip, conversations that alternate
    human/gpt from one ``<image>`` in the first turn, and error rows with a message."""
    from vidray import sources

    indexed(rows)
    indexed(errors)
    images = getattr(sources.REGISTRY[name], "media", "video") == "image"
    for r in rows:
        assert r["source"] == name
        assert r["frames"] and all(f.startswith(b"\xff\xd8") for f in r["frames"])
        stamps = r["frame_timestamps"]
        if images:  # image rows: no time axis
            assert stamps == []
            assert (r["clip_start"], r["clip_end"], r["video_duration"], r["video_fps"]) == (
                (None,) * 4
            )
        else:
            assert len(r["frames"]) == len(stamps), r["id"]
            assert stamps == sorted(stamps), f"{r['id']}: frame timestamps not ascending"
            assert r["label"] is None and r["classname"] is None
        turns = r["conversations"]
        assert turns and len(turns) % 2 == 0, f"{r['id']}: odd number of turns"
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2), r["id"]
        assert turns[0]["value"].startswith("<image>\n"), r["id"]
        assert all(t["value"].strip() for t in turns), f"{r['id']}: an empty turn"
        assert sum(t["value"].count("<image>") for t in turns) == 1, f"{r['id']}: <image> not once"
        if r["clip_start"] is not None:
            assert r["clip_end"] > r["clip_start"]
            # frames come from inside the span (the frame shown at a target may start
            # up to one frame interval before it)
            assert min(stamps) >= r["clip_start"] - 0.5
            assert max(stamps) < r["clip_end"]
    for e in errors:
        assert e["source"] == name and e["reason"] and e["message"], e


@dataclass(frozen=True)
class Harness:
    """One source's per-source test helpers (``harness`` in a module that sets ``SOURCE``)."""

    name: str

    def samples(self, root: Path, **ctx: Any) -> list[Sample]:
        """Every sample the split ``ctx`` picks (see :func:`source_samples`)."""
        return source_samples(self.name, root, **ctx)

    def ids(self, root: Path, split: str | None = None, **ctx: Any) -> list[str]:
        """The id of every conversation of every sample, in order; an error sample
        without conversations counts once by its own id (and one with conversations
        once per conversation, by its own id)."""
        return [
            c.id if not s.error else s.id
            for s in self.samples(root, split=split, **ctx)
            for c in (s.conversations or [s])
        ]

    def conversation_ids(self, root: Path, **ctx: Any) -> list[str]:
        """The id of every conversation of every sample, in order (error samples' too)."""
        return [c.id for s in self.samples(root, **ctx) for c in s.conversations]

    def conversations(self, root: Path, **ctx: Any) -> dict[str, Conversation]:
        """Conversation id -> conversation, over every sample."""
        return {c.id: c for s in self.samples(root, **ctx) for c in s.conversations}

    def sample_of(self, root: Path, **ctx: Any) -> dict[str, Sample]:
        """Conversation id -> the sample it belongs to."""
        return {c.id: s for s in self.samples(root, **ctx) for c in s.conversations}

    def convert(self, root: Path, out: Path, **options: Any) -> tuple[list, list]:
        """:func:`convert_in_process`, every row held to :func:`check_rows`."""
        rows, errors = convert_in_process(self.name, root, out, **options)
        check_rows(self.name, rows, errors)
        return rows, errors

    def rows_by_id(self, root: Path, out: Path, **options: Any) -> dict[str, dict[str, Any]]:
        """:meth:`convert`'s data rows indexed by id."""
        return indexed(self.convert(root, out, **options)[0])

    def convert_expected(
        self, fixture: tuple[Path, Expected], out: Path, **options: Any
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """Convert a built fixture with its own options (and ``options``), hold the result
        to its :class:`Expected` (rows and error reasons exactly), and return the data
        rows and the error rows, each indexed by id."""
        root, expected = fixture
        rows, errors = self.convert(root, out, **{**expected.options, **options})
        expected.assert_rows(rows, errors)
        return indexed(rows), indexed(errors)
