"""OUTPUT is known by where it is, not by how it was typed: each spelling of one folder
finds its complete output and resumes its committed units; a different folder never
does."""

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.test_convert import fingerprint
from vidray import output as vout
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.pipeline import ConvertError, convert, prepare


def options(inp: Path, out: str) -> ConvertOptions:
    return ConvertOptions.of(
        source="webvid", input=str(inp), output=out, size=48, progress=False, samples_per_file=3
    )


def spell(how: str, folder: Path, cwd: Path) -> str:
    """``folder`` as a user might type it, from ``cwd``."""
    if how == "relative":
        return os.path.relpath(folder, cwd)  # ../x/relout
    if how == "file":
        return f"file://{folder}"
    if how == "slash":
        return f"{folder}//"
    if how == "symlink":  # through a symlinked parent
        link = folder.parent.parent / "link"
        if not link.exists():
            folder.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(folder.parent, target_is_directory=True)
        return str(link / folder.name)
    return str(folder)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("relative", "absolute"),
        ("absolute", "relative"),
        ("absolute", "file"),
        ("slash", "absolute"),
        ("symlink", "absolute"),
        ("absolute", "symlink"),
    ],
)
def test_spellings_of_one_output_resume_each_other(
    ray_head, webvid_dir, tmp_path, monkeypatch, first, second
):
    cwd = tmp_path / "clone"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    folder = tmp_path / "x" / "relout"
    done = convert(options(webvid_dir, spell(first, folder, cwd)))
    assert done.rows == 9 and (folder / vout.MARKER).exists()
    rows = fingerprint(folder)
    # Complete: the other spelling finds it so, without converting anything.
    job = prepare(options(webvid_dir, spell(second, folder, cwd)))
    assert job.complete is not None
    # Interrupted before the commit: the other spelling resumes every committed unit.
    (folder / vout.MARKER).unlink()
    units = vout.committed_count(storage.location(str(folder)))
    assert units == 4
    again = convert(options(webvid_dir, spell(second, folder, cwd)))
    assert again.resumed_units == units and again.samples == 0
    assert fingerprint(folder) == rows and (folder / vout.MARKER).exists()


def test_a_different_folder_is_still_another_command(ray_head, webvid_dir, tmp_path):
    """A copy of an OUTPUT (its run file included) is not the OUTPUT it was copied from."""
    first = tmp_path / "first"
    convert(options(webvid_dir, str(first)))
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    with pytest.raises(ConvertError, match=r"differs in: output\)"):
        prepare(options(webvid_dir, str(copy)))
    with pytest.raises(ConvertError, match=r"differs in: output\)"):
        prepare(options(webvid_dir, f"file://{copy}/"))


def test_an_earlier_run_file_with_a_typed_path_resumes(ray_head, webvid_dir, tmp_path, monkeypatch):
    """A run file of an earlier vidray recorded OUTPUT as typed (here ``out/``, from the
    folder above it): the same folder spelled otherwise still resumes it."""
    monkeypatch.chdir(tmp_path)
    convert(options(webvid_dir, "out"))
    out = tmp_path / "out"
    run = json.loads((out / vout.RUN_FILE).read_text())
    assert run["options"]["output"] == str(out)  # recorded where it is
    run["options"]["output"] = "out/"
    run["fingerprint"] = vout.fingerprint(run["options"])
    (out / vout.RUN_FILE).write_text(json.dumps(run))
    assert prepare(options(webvid_dir, str(out))).complete is not None


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("s3://bucket/prefix", "s3://bucket/prefix/", True),
        ("s3://bucket/prefix//", "s3://bucket/prefix", True),
        ("s3://bucket/prefix", "s3://bucket/other", False),
        ("s3://bucket/prefix", "s3://other/prefix", False),
    ],
)
def test_s3_identity(a, b, same):
    assert (storage.identity(a) == storage.identity(b)) is same


def test_s3_output_resumes_with_a_trailing_slash(ray_head, webvid_dir, s3_bucket):
    out = f"s3://{s3_bucket}/identity/out"
    convert(options(webvid_dir, out))
    assert prepare(options(webvid_dir, out + "/")).complete is not None
    with pytest.raises(ConvertError, match=r"differs in: output\)"):
        loc = storage.location(out)
        other = storage.location(out + "-copy")
        for rel in (vout.RUN_FILE, vout.MARKER):
            loc.fs.copy(loc.join(rel), other.join(rel))
        prepare(options(webvid_dir, out + "-copy/"))
