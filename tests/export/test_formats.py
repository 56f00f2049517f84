"""The export format registry: every format declares each of its parts, and what it
exports reads back through its own validator, onto the bytes of its rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.export.test_export import ROWS, run, write_output
from tests.export.test_export_images import CAPTIONS, CLASSES, FRAMES, write
from tests.export.test_export_ownership import ordered
from vidray import export
from vidray.cli import UsageError, build_parser

#: What a format refuses of an OUTPUT kind, and why (clip pairs are of one image each).
REFUSED = {
    ("clip", "video"): "clip takes image rows",
    ("clip", "multi-image"): "clip takes one image per row",
}


def overrides(cls: type[export.ExportFormat], part: str) -> bool:
    return getattr(cls, part) is not getattr(export.ExportFormat, part)


@pytest.mark.parametrize("name", list(export.FORMATS))
def test_each_format_declares_every_part(name, capsys):
    cls = export.FORMATS[name]
    assert cls.name == name
    for part in ("add", "validate", "referenced_files"):  # builder, validator, files
        assert overrides(cls, part), f"{name} does not define {part}"
    assert isinstance(cls.help, str) and cls.help.strip()
    assert cls.unit.strip()
    assert cls.suffix.endswith(".jsonl" if cls.lines else ".json")
    for images in (False, True):
        assert cls().frames_root(images).startswith(export.FRAMES_DIR)
        entry = cls.dataset_info(f"x{cls.suffix}", images)
        assert entry is None or entry["file_name"] == f"x{cls.suffix}"

    # the CLI's subcommand, its help and --absolute-paths come from the class
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["export", name, "--help"])
    # (compared without whitespace: argparse wraps the text, also at hyphens)
    assert "".join(cls.help.split()) in "".join(capsys.readouterr().out.split())
    argv = ["export", name, "out", "dest", "--absolute-paths"]
    if cls.absolute_paths:
        assert parser.parse_args(argv).absolute_paths is True
    else:
        with pytest.raises(UsageError, match="--absolute-paths"):
            parser.parse_args(argv)


def test_the_cli_offers_exactly_the_registry(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["export", "--help"])
    listed = capsys.readouterr().out
    for name in export.FORMATS:
        assert f"\n    {name}" in listed
    with pytest.raises(UsageError, match="nosuchformat"):
        build_parser().parse_args(["export", "nosuchformat", "out", "dest"])
    with pytest.raises(ValueError, match="unknown export format"):
        export.ExportOptions(format="nosuchformat", output="out", dest="dest")


def output_of(kind: str, root: Path) -> tuple[str, list[dict]]:
    """An OUTPUT of video clips, of single images (one shared by two captions), or of a
    multi-image row, and its rows."""
    if kind == "video":
        return write_output(root, [ROWS[:3], ROWS[3:]]), ROWS
    rows = [*CLASSES, *CAPTIONS] if kind == "image" else [FRAMES]
    return write(root, rows, "caltech101"), rows


@pytest.mark.parametrize("kind", ["video", "image", "multi-image"])
@pytest.mark.parametrize("name", list(export.FORMATS))
def test_an_export_reads_back_through_its_own_validator(name, kind, tmp_path, capsys):
    cls = export.FORMATS[name]
    output, rows = output_of(kind, tmp_path / "out")
    dest = tmp_path / "dest"
    code = run(name, output, str(dest), "--name", "t", "--split", "train=0.5,test=0.5")
    if (name, kind) in REFUSED:
        assert code == 2 and REFUSED[name, kind] in capsys.readouterr().err
        return
    assert code == 0
    row_digests = {export.frames_digest(ordered(r)) for r in rows}
    info_file = dest / export.DATASET_INFO
    records = []
    for split in ("train", "test"):
        path = dest / f"t_{split}{cls.suffix}"
        for n, record in enumerate(export.iter_records(path), 1):
            cls.validate(record, dest, f"{path.name} record {n}")
            files = cls.referenced_files(record, dest)
            assert files and all(f.is_file() for f in files)
            assert export.frames_digest([f.read_bytes() for f in files]) in row_digests
            records.append((record, files))
        entry = cls.dataset_info(path.name, kind != "video")
        if entry is None:
            assert not info_file.exists()
        else:
            assert json.loads(info_file.read_text())[path.stem] == entry
    assert len(records) >= 1
    # and the validator can fail: a record whose first file is gone is refused
    record, files = records[0]
    files[0].unlink()
    with pytest.raises(export.ExportError):
        cls.validate(record, dest)
