"""OUTPUT's layout: Hugging Face ``datasets`` and pyarrow load an OUTPUT as it is and
find the data rows only; the ``clips`` layout stores each clip's frames once and
flattens to exactly the rows of the ``rows`` layout."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import datasets
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.helpers.datasets import clevrer, convert_in_process, nextqa, star
from tests.helpers.layouts import reopen_shard, to_layout_3
from tests.output import write_unit
from vidray import output as vout
from vidray import synth
from vidray.cli import main
from vidray.io import storage
from vidray.schema import CLIP_SCHEMA, OUTPUT_SCHEMA

BUILDERS = {"clevrer": clevrer.build, "nextqa": nextqa.build, "star": star.build}


def build(name: str, root: Path) -> None:
    if name == "finevideo":  # shard names such as data/train-00000-of-00002.parquet
        synth.write_finevideo(root, files=2, per_file=2, qa_per_video=4)
    else:
        BUILDERS[name](root)


def converted(name: str, tmp_path: Path, layout: str = "rows", **options) -> Path:
    """A complete OUTPUT of ``name``'s fixture, converted in this process and committed
    as a run commits (``_SUCCESS`` last)."""
    root = tmp_path / "in"
    if not root.exists():
        build(name, root)
    out = tmp_path / f"out-{layout}-{options.get('split', 'default')}"
    convert_in_process(name, root, out, layout=layout, **options)
    loc = storage.location(str(out))
    vout.commit(loc, vout.committed_units(loc).values(), {"source": name, "layout": layout})
    return out


def star_options(tmp_path: Path, out: Path):
    """The options that ``converted("star", tmp_path)`` converted with, as a rerun of
    the same command gives them."""
    from vidray.config import ConvertOptions

    return ConvertOptions.of(source="star", input=str(tmp_path / "in"), output=str(out),
                          progress=False, samples_per_file=3, size=32)  # fmt: skip


def ids(rows) -> list[str]:
    return sorted(r["id"] for r in rows)


def hf_train(out: Path) -> datasets.Dataset:
    return datasets.load_dataset(str(out), split="train")


# ------------------------------------------------------------------ readers' discovery


@pytest.mark.parametrize("name", ["nextqa", "finevideo", "star", "clevrer"])
def test_datasets_and_pyarrow_load_output_as_it_is(name, tmp_path):
    """nextqa and finevideo have unit names like ``OE__train-00000-of-00001-00000``
    (Hugging Face's sharded pattern), star ``STAR_train-00000`` (its split pattern)."""
    out = converted(name, tmp_path)
    expected = vout.read_output(str(out)).to_pylist()
    errors = vout.read_output(str(out), "errors").to_pylist()
    if name in ("nextqa", "clevrer", "star"):
        assert errors, "the fixture must have error rows for the test to mean something"
        assert list((out / vout.ERRORS_DIR).glob("*.parquet"))
    # what a crash between staging and commit leaves: never read
    stale = out / vout.STAGING_DIR / vout.data_file_name("crashed-00000", "train")
    stale.parent.mkdir(parents=True)
    shutil.copy(out / vout.committed_data_files(storage.location(str(out)))[0], stale)

    loaded = hf_train(out)
    assert loaded.num_rows == len(expected)
    assert ids(loaded) == ids(expected)
    assert loaded.features.arrow_schema.names == OUTPUT_SCHEMA.names
    first = next(r for r in loaded if r["id"] == expected[0]["id"])
    assert first["frames"] == expected[0]["frames"]
    assert list(datasets.load_dataset(str(out))) == ["train"]

    table = ds.dataset(str(out), format="parquet").to_table()
    assert table.schema == OUTPUT_SCHEMA
    assert ids(table.to_pylist()) == ids(expected)
    assert not (out / "README.md").exists()


def test_data_files_match_one_hugging_face_pattern_once(tmp_path):
    from datasets.data_files import DataFilesDict, get_data_patterns

    out = converted("nextqa", tmp_path)
    files = DataFilesDict.from_patterns(get_data_patterns(str(out)), base_path=str(out))
    committed = vout.committed_data_files(storage.location(str(out)))
    assert list(files) == ["train"]
    assert sorted(files["train"]) == sorted(str(out / f) for f in committed)


def test_the_split_in_file_names(tmp_path):
    assert [vout.hf_split(s) for s in ("train", "mc-train", "pretrain", "hd", "long", None)] == [
        "train"
    ] * 6
    assert {vout.hf_split(s) for s in ("val", "validation", "dev", "val_2", "indirect-val")} == {
        "validation"
    }
    assert {vout.hf_split(s) for s in ("test", "mc-test", "direct-test")} == {"test"}
    with pytest.raises(ValueError, match="split must be one of"):
        vout.data_file_name("u", "val")

    out = converted("nextqa", tmp_path, split="validation")
    assert all(p.name.startswith("validation-") for p in (out / "data").iterdir())
    loaded = datasets.load_dataset(str(out))
    assert list(loaded) == ["validation"]
    assert ids(loaded["validation"]) == ids(vout.read_output(str(out)).to_pylist())


def test_committed_data_files_while_running_and_complete(tmp_path):
    out = converted("clevrer", tmp_path)
    loc = storage.location(str(out))
    complete = vout.committed_data_files(loc)
    records = list(vout.committed_records(loc))
    assert complete == sorted(r.data_file for r in records if r.data_file) and complete
    (out / vout.MARKER).unlink()  # as while the job still runs
    assert vout.committed_data_files(loc) == complete
    # a shard not compacted yet: its units' records are in __units/
    record = next(r for r in records if r.data_file)
    reopen_shard(out, record.shard)
    assert vout.committed_data_files(loc) == complete
    # committed but not yet moved out of staging (a crash between the two): not listed
    staged = out / vout.STAGING_DIR / record.data_file
    staged.parent.mkdir(parents=True)
    (out / record.data_file).rename(staged)
    assert record.data_file not in vout.committed_data_files(loc)
    vout.publish(loc, vout.committed_units(loc)[record.unit])  # what the next run does
    assert vout.committed_data_files(loc) == complete
    # a file no record names (a unit still being written) is not listed
    (out / vout.UNITS_DIR / f"{record.unit}.json").unlink()
    assert record.data_file not in vout.committed_data_files(loc)


def test_an_s3_output_reads_with_datasets_and_pyarrow(tmp_path, s3_bucket):
    """datasets 5.2 takes no ``s3://`` folder as a dataset (it resolves the path as a
    local one), but reads the data files by their pattern; pyarrow discovers the folder."""
    import s3fs

    from tests.conftest import upload_dir

    out = converted("nextqa", tmp_path)
    upload_dir(out, s3_bucket, "layout/nextqa")
    expected = ids(vout.read_output(str(out)).to_pylist())
    uri = f"s3://{s3_bucket}/layout/nextqa"
    assert ids(vout.read_output(uri).to_pylist()) == expected
    loaded = datasets.load_dataset("parquet", data_files=f"{uri}/data/train-*.parquet")
    assert ids(loaded["train"]) == expected
    fs = s3fs.S3FileSystem()
    table = ds.dataset(f"{s3_bucket}/layout/nextqa", filesystem=fs, format="parquet").to_table()
    assert ids(table.to_pylist()) == expected


# ---------------------------------------------------------------------- the clips layout


@pytest.mark.parametrize("name", ["clevrer", "nextqa", "finevideo"])
def test_clips_store_frames_once_and_flatten_to_the_rows(name, tmp_path):
    rows_out = converted(name, tmp_path, "rows")
    clips_out = converted(name, tmp_path, "clips")
    rows = sorted(vout.read_output(str(rows_out)).to_pylist(), key=lambda r: r["id"])
    flat = sorted(vout.read_output(str(clips_out)).to_pylist(), key=lambda r: r["id"])
    assert flat == rows  # ids, conversations, frames, timestamps: every column

    stored = vout.read_output(str(clips_out), flat=False)
    assert stored.schema == CLIP_SCHEMA
    clips = stored.to_pylist()
    # one record per clip, its frames once: as many frame lists as distinct clips
    distinct = {(r["video"], r["clip_start"], r["clip_end"]) for r in rows}
    assert len(clips) == len(distinct) < len(rows)
    assert len({c["clip_id"] for c in clips}) == len(clips)
    assert sorted(q["id"] for c in clips for q in c["questions"]) == ids(rows)
    frames_in_rows = sum(len(f) for r in rows for f in r["frames"])
    frames_in_clips = sum(len(f) for c in clips for f in c["frames"])
    per_clip = {(r["video"], r["clip_start"], r["clip_end"]): r["frames"] for r in rows}
    assert frames_in_clips == sum(len(f) for fs in per_clip.values() for f in fs)
    assert frames_in_clips < frames_in_rows
    # (file sizes: benchmarks/bench_layout.py; at this fixture's 32-pixel frames
    # Parquet's dictionary encoding already folds a row group's repeated frames)

    manifest = vout.read_manifest(storage.location(str(clips_out)))
    assert manifest["layout"] == "clips"
    assert manifest["counts"]["rows"] == len(rows)
    assert manifest["counts"]["clips"] == len(clips)
    # the readers' discovery sees the clip rows, one per clip
    assert hf_train(clips_out).num_rows == len(clips)


def test_clip_ids():
    row = {"source": "star", "video": "a/b.mp4", "clip_start": 1.5, "clip_end": 9.25}
    assert vout.clip_id(vout.OutputRow.from_dict(row)) == "star:a/b.mp4@1.5-9.25"
    whole = {**row, "clip_start": None, "clip_end": None}
    assert vout.clip_id(vout.OutputRow.from_dict(whole)) == "star:a/b.mp4"


def test_an_export_of_clips_gives_the_records_of_rows(tmp_path):
    rows_out = converted("clevrer", tmp_path, "rows")
    clips_out = converted("clevrer", tmp_path, "clips")
    for fmt in ("llamafactory", "llava", "frames"):
        dests = [tmp_path / f"{fmt}-{k}" for k in ("rows", "clips")]
        for out, dest in zip((rows_out, clips_out), dests, strict=True):
            assert main(["export", fmt, str(out), str(dest)]) == 0
        listing = [sorted(p.relative_to(d).as_posix() for p in d.rglob("*")) for d in dests]
        assert listing[0] == listing[1]
        for rel in listing[0]:
            # the export's ownership record names its OUTPUT, which differs by design
            if (dests[0] / rel).is_file() and rel != "_vidray_export.json":
                assert (dests[0] / rel).read_bytes() == (dests[1] / rel).read_bytes(), rel


def test_layout_is_checked_and_fingerprinted(tmp_path, capsys):
    from vidray.config import ConvertOptions
    from vidray.plan import ConvertError, prepare

    assert main(["convert", "clevrer", str(tmp_path), str(tmp_path / "o"), "--layout", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vidray: error: --layout") and len(err.strip().splitlines()) == 1
    out = converted("clevrer", tmp_path, "clips")
    opts = ConvertOptions.of(
        source="clevrer", input=str(tmp_path / "in"), output=str(out), progress=False
    )
    assert opts.recorded()["layout"] == "rows"
    clips = opts.replace(layout="clips").recorded()
    vout.begin(storage.location(str(out)), clips)  # as the clips run claimed it
    with pytest.raises(ConvertError, match=r"differs in: layout\)"):
        prepare(opts)


# --------------------------------------------------------------------- earlier layouts


def test_an_output_of_unit_layout_2_is_read_but_not_resumed(tmp_path):
    from vidray.plan import ConvertError, prepare

    out = converted("star", tmp_path)
    expected = ids(vout.read_output(str(out)).to_pylist())
    opts = star_options(tmp_path, out)
    # as vidray 0.2 left it: errors/, _units/, layout 2, no marker (a run under way)
    to_layout_3(out, complete=False)
    (out / vout.ERRORS_DIR).rename(out / "errors")
    (out / vout.UNITS_DIR).rename(out / "_units")
    for record in (out / "_units").glob("*.json"):
        r = json.loads(record.read_text())
        r["error_file"] = r["error_file"] and f"errors/{Path(r['error_file']).name}"
        record.write_text(json.dumps(r))
    run = {"fingerprint": vout.fingerprint(opts.recorded()), "options": opts.recorded()}
    (out / vout.RUN_FILE).write_text(json.dumps({**run, "layout": 2}))

    assert ids(vout.read_output(str(out)).to_pylist()) == expected
    assert vout.read_output(str(out), "errors").num_rows > 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(ConvertError, match=r"holds units of layout 2.*--overwrite"):
        prepare(opts)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    # --overwrite clears the old layout's folders too
    vout.begin(storage.location(str(out)), opts.recorded(), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [vout.RUN_FILE]


def test_an_output_of_unit_layout_3_is_read_and_resumed(tmp_path):
    """Layout 3 (every unit's record in ``__units/``, a ``_SUCCESS`` listing every
    file) cut units as layout 4 does: it is read as it is, and a run resumes it."""
    from vidray import reader
    from vidray.plan import prepare

    out = converted("star", tmp_path)
    loc = storage.location(str(out))
    expected = ids(vout.read_output(str(out)).to_pylist())
    errors = vout.read_output(str(out), "errors").num_rows
    opts = star_options(tmp_path, out)
    run = {"fingerprint": vout.fingerprint(opts.recorded()), "options": opts.recorded()}
    (out / vout.RUN_FILE).write_text(json.dumps({**run, "layout": 3}))
    to_layout_3(out)  # complete: its _SUCCESS lists data_files and error_files
    files = vout.committed_data_files(loc)
    assert files == sorted(json.loads((out / vout.MARKER).read_text())["data_files"])
    assert ids(vout.read_output(str(out)).to_pylist()) == expected
    assert vout.read_output(str(out), "errors").num_rows == errors > 0
    assert reader.VidrayReader(str(out)).files == files
    assert main(["export", "llava", str(out), str(tmp_path / "llava")]) == 0

    to_layout_3(out, complete=False)  # a layout 3 run under way
    assert ids(vout.read_output(str(out)).to_pylist()) == expected
    job = prepare(opts)
    assert job.complete is None and job.committed.units == len(list(out.glob("__units/*.json")))
    vout.begin(loc, opts.recorded(), job.committed)
    manifest = vout.commit(loc, job.committed, {"source": "star"})
    assert json.loads((out / vout.RUN_FILE).read_text())["layout"] == vout.UNIT_LAYOUT
    assert manifest["counts"]["units"] == job.committed.units and "data_files" not in manifest
    assert not (out / vout.UNITS_DIR).exists() and list(out.glob("__shards/*.jsonl"))
    assert vout.committed_data_files(loc) == files
    assert ids(vout.read_output(str(out)).to_pylist()) == expected


def test_error_rows_stay_one_per_question_in_the_clips_layout(tmp_path):
    rows_out = converted("nextqa", tmp_path, "rows")
    clips_out = converted("nextqa", tmp_path, "clips")
    errors = [vout.read_output(str(o), "errors").to_pylist() for o in (rows_out, clips_out)]
    assert errors[0] == errors[1] and errors[0]
    assert Counter(e["reason"] for e in errors[1]) == Counter(
        vout.read_manifest(storage.location(str(clips_out)))["counts"]["errors_by_reason"]
    )


def test_clips_files_are_clip_schema(tmp_path):
    out = converted("clevrer", tmp_path, "clips")
    for p in (out / "data").glob("*.parquet"):
        assert pq.read_schema(p) == CLIP_SCHEMA


def test_clips_layout_end_to_end_on_ray(ray_head, finevideo_dir, tmp_path):
    from vidray.config import ConvertOptions
    from vidray.pipeline import convert

    def run(layout: str) -> Path:
        out = tmp_path / layout
        opts = ConvertOptions.of(
            source="finevideo",
            input=str(finevideo_dir),
            output=str(out),
            size=48,
            progress=False,
            layout=layout,
        )
        convert(opts)
        return out

    rows_out, clips_out = run("rows"), run("clips")
    manifest = vout.read_manifest(storage.location(str(clips_out)))
    assert (manifest["layout"], manifest["split"], manifest["options"]["layout"]) == (
        "clips",
        "train",
        "clips",
    )
    assert (manifest["counts"]["rows"], manifest["counts"]["clips"]) == (18, 6)
    assert vout.read_output(str(clips_out), flat=False).num_rows == 6
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(vout.read_output(str(clips_out)).to_pylist(), key=key) == sorted(
        vout.read_output(str(rows_out)).to_pylist(), key=key
    )
    assert hf_train(clips_out).num_rows == 6 and hf_train(rows_out).num_rows == 18


def test_a_retried_clips_unit_rewrites_what_it_kept(tmp_path):
    """--retry-failed re-adds a unit's kept rows (read back flat): the clips are
    regrouped exactly as they were written."""
    out = converted("clevrer", tmp_path, "clips")
    loc = storage.location(str(out))
    for unit, record in vout.committed_units(loc).items():
        if not record.data_file:
            continue
        before = pq.read_table(out / record.data_file)
        kept = vout.read_unit_rows(loc, unit, record.shard)
        assert vout.read_unit_rows(loc, unit) == []  # its record is in its shard's manifest
        stored = [q["id"] for qs in before.column("questions").to_pylist() for q in qs]
        assert [r.id for r in kept] == stored and len(kept) == record.rows
        again = write_unit(
            storage.location(str(tmp_path / "again")), unit, record.samples, kept, [],
            layout="clips",
        )  # fmt: skip
        assert (again.rows, again.clips, again.frames) == (record.rows, record.clips, record.frames)
        assert pq.read_table(tmp_path / "again" / again.data_file).equals(before)
