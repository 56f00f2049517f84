"""The trainer-side reader over a real converted OUTPUT (FineVideo, 3 questions per
video, one video per file), local and on the local S3 server, in both layouts."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import warnings
from collections import Counter
from pathlib import Path

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import upload_dir
from tests.helpers.layouts import reopen_shard
from vidray import output as vout
from vidray import synth
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.pipeline import convert
from vidray.reader import Part, ReaderError, VidrayReader, decode_frames, parquet_files
from vidray.schema import CLIP_COLUMNS, CLIP_SCHEMA, flatten_clip_row

SHARDINGS = [(1, 1), (2, 1), (2, 3), (3, 2)]


@pytest.fixture(scope="module")
def output(ray_head, finevideo_dir, tmp_path_factory) -> Path:
    """6 committed data files of 3 rows (one video, three questions, each)."""
    out = tmp_path_factory.mktemp("reader") / "out"
    summary = convert(
        ConvertOptions.of(
            source="finevideo",
            input=str(finevideo_dir),
            output=str(out),
            size=48,
            samples_per_file=1,
            progress=False,
        )
    )
    assert (summary.rows, summary.error_count) == (18, 0)
    assert len(vout.committed_data_files(storage.location(str(out)))) == 6
    return out


def rows_of(out: Path | str) -> list[dict]:
    return vout.read_output(str(out)).to_pylist()


def key(sample: dict) -> str:
    """Everything a sample holds, frames as bytes: equal keys, equal samples."""
    body = {k: v for k, v in sample.items() if k != "frames"}
    frames = hashlib.sha256(b"".join(sample["frames"])).hexdigest()
    return json.dumps(body, sort_keys=True) + frames


def read_all(out, world: int, workers: int, **kw) -> dict[tuple[int, int], list[dict]]:
    kw.setdefault("frames", "jpeg")
    return {
        (r, w): list(
            VidrayReader(str(out), rank=r, world_size=world, worker_id=w, num_workers=workers, **kw)
        )
        for r in range(world)
        for w in range(workers)
    }


def copy_output(out: Path, dest: Path) -> Path:
    shutil.copytree(out, dest)
    return dest


def to_clips_layout(out: Path) -> None:
    """Rewrite every data file of ``out`` in the clips layout (CLIP_SCHEMA), grouping
    its rows by clip, with one clip per row group so the reader must read by group."""
    for rel in vout.committed_data_files(storage.location(str(out))):
        rows = pq.read_table(out / rel).to_pylist()
        clips: dict[tuple, dict] = {}
        for row in rows:
            clip = (row["video"], row["clip_start"], row["clip_end"])
            if clip not in clips:
                clips[clip] = {
                    "clip_id": f"{row['source']}:{row['video']}",
                    **{c: row[c] for c in CLIP_COLUMNS},
                    "questions": [],
                }
            q = {k: row[k] for k in ("id", "conversations", "query")}
            clips[clip]["questions"].append(q)
        table = pa.Table.from_pylist(list(clips.values()), schema=CLIP_SCHEMA)
        pq.write_table(table, out / rel, row_group_size=1)


# --------------------------------------------------------------------- sharding


@pytest.mark.parametrize(("world", "workers"), SHARDINGS)
def test_every_committed_row_once_over_all_ranks_and_workers(output, world, workers):
    expected = Counter(key(r) for r in rows_of(output))
    assert sum(expected.values()) == 18
    shards = read_all(output, world, workers, seed=3, shuffle_buffer=4)
    got = Counter(key(s) for samples in shards.values() for s in samples)
    assert got == expected
    # by file: no file is split between readers
    videos = [{s["video"] for s in samples} for samples in shards.values()]
    assert sum(len(v) for v in videos) == len(set().union(*videos)) == 6


def test_the_multiset_does_not_depend_on_the_worker_count(output):
    seen = []
    for world, workers in SHARDINGS:
        shards = read_all(output, world, workers, seed=1, shuffle_buffer=5)
        seen.append(Counter(key(s) for samples in shards.values() for s in samples))
    assert all(c == seen[0] for c in seen)


def test_clips_layout_gives_one_sample_per_question(output, tmp_path):
    clips = copy_output(output, tmp_path / "clips")
    to_clips_layout(clips)
    rel = vout.committed_data_files(storage.location(str(clips)))[0]
    pf = pq.ParquetFile(clips / rel)
    assert pf.schema_arrow.equals(CLIP_SCHEMA) and pf.metadata.num_rows == 1
    expected = Counter(key(r) for r in rows_of(output))
    for world, workers in [(1, 1), (2, 3)]:
        shards = read_all(clips, world, workers, shuffle_buffer=2)
        assert Counter(key(s) for v in shards.values() for s in v) == expected
    # flatten_clip_row shares the clip's frames between its questions
    samples = list(VidrayReader(str(clips), shuffle=False, frames="jpeg"))
    by_video = {}
    for s in samples:
        by_video.setdefault(s["video"], []).append(s)
    assert all(len(g) == 3 and len({tuple(s["frames"]) for s in g}) == 1 for g in by_video.values())


def test_row_groups_are_read_one_at_a_time(output, tmp_path):
    """A file of several row groups is read group by group: the reader resumes inside
    the second group of a file, and reads a multi-group file whole."""
    out = copy_output(output, tmp_path / "groups")
    for rel in vout.committed_data_files(storage.location(str(out))):
        table = pq.read_table(out / rel)
        pq.write_table(table, out / rel, row_group_size=1)
    assert pq.ParquetFile(out / rel).num_row_groups == 3
    full = list(VidrayReader(str(out), shuffle=False, frames="jpeg", shuffle_buffer=2))
    assert [s["id"] for s in full] == [r["id"] for r in rows_of(output)]
    reader = VidrayReader(str(out), shuffle=False, frames="jpeg", shuffle_buffer=2)
    head = list(itertools.islice(iter(reader), 4))
    # blocks of 2 over files of 3 one-row groups: the next block starts after the
    # first group of the second file
    pos = reader.position
    assert (pos.block, pos.file, pos.row_group, pos.sample, pos.in_block) == (2, 1, 0, 1, 0)
    fresh = VidrayReader(str(out), shuffle=False, frames="jpeg", shuffle_buffer=2)
    fresh.load_state_dict(reader.state_dict())
    assert [s["id"] for s in head + list(fresh)] == [s["id"] for s in full]


# --------------------------------------------------------------------- shuffle


def order(out, **kw) -> list[str]:
    return [s["id"] for s in VidrayReader(str(out), frames="jpeg", **kw)]


def test_shuffle_is_deterministic_per_seed_and_epoch(output):
    plain = [r["id"] for r in rows_of(output)]
    assert order(output, shuffle=False) == plain
    first = order(output, seed=7, shuffle_buffer=6)
    assert first == order(output, seed=7, shuffle_buffer=6)
    assert sorted(first) == sorted(plain) and first != plain
    assert order(output, seed=8, shuffle_buffer=6) != first
    reader = VidrayReader(str(output), seed=7, shuffle_buffer=6, frames="jpeg")
    epochs = [[s["id"] for s in reader] for _ in range(3)]  # each loop is the next epoch
    assert epochs[0] == first and reader.epoch == 3
    assert epochs[1] != epochs[0] and epochs[2] != epochs[1]
    assert sorted(epochs[1]) == sorted(plain)
    again = VidrayReader(str(output), seed=7, shuffle_buffer=6, frames="jpeg")
    again.set_epoch(1)
    assert [s["id"] for s in again] == epochs[1]
    # the buffer mixes files: within a 6-sample block, samples of two files interleave
    files = [i.split(":")[1] for i in first[:6]]
    assert files != sorted(files, key=files.index)


# --------------------------------------------------------------------- state


@pytest.mark.parametrize(("world", "workers"), [(1, 1), (2, 3)])
def test_a_restored_state_neither_repeats_nor_skips(output, world, workers):
    kw = {"seed": 5, "shuffle_buffer": 4, "frames": "jpeg"}
    for rank, wid in itertools.product(range(world), range(workers)):
        shard = {"rank": rank, "world_size": world, "worker_id": wid, "num_workers": workers}
        whole = [s["id"] for s in VidrayReader(str(output), **kw, **shard)]
        for k in sorted({0, 1, 3, 4, 5, len(whole) - 1, len(whole)}):
            if k < 0 or k > len(whole):
                continue
            reader = VidrayReader(str(output), **kw, **shard)
            head = [s["id"] for s in itertools.islice(iter(reader), k)]
            state = json.loads(json.dumps(reader.state_dict()))
            fresh = VidrayReader(str(output), **kw, **shard)
            fresh.load_state_dict(state)
            assert head + [s["id"] for s in fresh] == whole, (rank, wid, k)


def test_a_state_at_the_end_of_an_epoch_continues_with_the_next(output):
    kw = {"seed": 2, "shuffle_buffer": 4, "frames": "jpeg"}
    reader = VidrayReader(str(output), **kw)
    list(reader)
    second = list(itertools.islice(iter(reader), 7))
    fresh = VidrayReader(str(output), **kw)
    fresh.load_state_dict(reader.state_dict())
    reference = VidrayReader(str(output), **kw)
    reference.set_epoch(1)
    assert [s["id"] for s in second + list(fresh)] == [s["id"] for s in reference]
    assert fresh.epoch == reference.epoch == 2


def test_a_state_that_does_not_fit_is_refused(output):
    reader = VidrayReader(str(output), rank=0, world_size=2, frames="jpeg")
    next(iter(reader))
    state = reader.state_dict()
    other_seed = VidrayReader(str(output), rank=0, world_size=2, seed=1)
    with pytest.raises(ReaderError, match="seed=0"):
        other_seed.load_state_dict(state)
    other_rank = VidrayReader(str(output), rank=1, world_size=2)
    other_rank.load_state_dict(state)
    with pytest.raises(ReaderError, match="same world size"):
        next(iter(other_rank))


# --------------------------------------------------------------------- committed only


def test_a_running_job_is_read_as_far_as_it_is_committed(output, tmp_path):
    out = copy_output(output, tmp_path / "running")
    (out / vout.MARKER).unlink()
    loc = storage.location(str(out))
    files = vout.committed_data_files(loc)
    # a unit in progress: its file staged, no record
    (out / vout.STAGING_DIR / "data").mkdir(parents=True)
    shutil.copy(out / files[0], out / vout.STAGING_DIR / "data" / "zz-00000.parquet")
    # a data file no record names, and a committed unit not yet moved out of staging
    # (its shard not compacted yet: the unit's record is in __units/)
    shutil.copy(out / files[1], out / "data" / "stray-00000.parquet")
    staged = next(r for r in vout.committed_records(loc) if r.data_file == files[2])
    reopen_shard(out, staged.shard)
    (out / files[2]).rename(out / vout.STAGING_DIR / files[2])
    committed = [f for f in files if f != files[2]]
    assert vout.committed_data_files(loc) == committed
    expected = Counter(key(r) for rel in committed for r in pq.read_table(out / rel).to_pylist())
    shards = read_all(out, 2, 3, seed=4, shuffle_buffer=3)
    assert Counter(key(s) for v in shards.values() for s in v) == expected
    assert sum(expected.values()) == 15
    # the state of a running job keeps its file list: a later commit changes nothing
    reader = VidrayReader(str(out), seed=4, frames="jpeg")
    head = [s["id"] for s in itertools.islice(iter(reader), 5)]
    state = json.loads(json.dumps(reader.state_dict()))
    assert state["files"] == committed
    (out / vout.STAGING_DIR / files[2]).rename(out / files[2])  # the unit is published
    fresh = VidrayReader(str(out), seed=4, frames="jpeg")
    assert len(fresh.files) == 6
    fresh.load_state_dict(state)
    whole = VidrayReader(str(out), seed=4, frames="jpeg", files=committed)
    assert head + [s["id"] for s in fresh] == [s["id"] for s in whole]


def test_not_a_vidray_output_and_bad_arguments_are_clear_errors(output, tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(vout.OutputError, match="is not a vidray output"):
        VidrayReader(str(tmp_path))
    with pytest.raises(ValueError, match="frames must be one of pil, numpy, jpeg, got 'png'"):
        VidrayReader(str(output), frames="png")
    with pytest.raises(ValueError, match="rank 2 is not below world_size 2"):
        VidrayReader(str(output), rank=2, world_size=2)
    with pytest.raises(ValueError, match="shuffle_buffer must be an integer >= 1"):
        VidrayReader(str(output), shuffle_buffer=0)


# --------------------------------------------------------------------- frames


def test_frames_decoded_or_raw(output):
    rows = {r["id"]: r for r in rows_of(output)}
    raw = {s["id"]: s for s in VidrayReader(str(output), frames="jpeg")}
    pil = {s["id"]: s for s in VidrayReader(str(output), frames="pil")}
    arrays = {s["id"]: s for s in VidrayReader(str(output), frames="numpy")}
    assert raw.keys() == pil.keys() == arrays.keys() == rows.keys()
    for i, row in rows.items():
        assert raw[i]["frames"] == row["frames"]
        assert raw[i]["frame_timestamps"] == row["frame_timestamps"] == pil[i]["frame_timestamps"]
        assert raw[i]["conversations"] == row["conversations"]
        assert len(pil[i]["frames"]) == len(row["frames"]) > 0
        for jpeg, image, array in zip(
            row["frames"], pil[i]["frames"], arrays[i]["frames"], strict=True
        ):
            assert image.mode == "RGB" and image.size == (row["width"], row["height"])
            assert array.dtype == np.uint8 and array.shape == (row["height"], row["width"], 3)
            assert np.array_equal(np.asarray(image), array)
            # the picture is the video's frame: its drawn index reads back from both
            assert synth.read_index(array) == synth.read_index_jpeg(jpeg)
        shown = [synth.read_index(a) for a in arrays[i]["frames"]]
        assert all(a < b for a, b in itertools.pairwise(shown))  # time order
    assert decode_frames([], "pil") == []


# --------------------------------------------------------------------- S3 and Ray


def test_s3_output_reads_as_the_local_one(output, s3_bucket):
    upload_dir(output, s3_bucket, "reader/out")
    uri = f"s3://{s3_bucket}/reader/out"
    expected = Counter(key(r) for r in rows_of(output))
    shards = read_all(uri, 2, 3, seed=9, shuffle_buffer=4)
    assert Counter(key(s) for v in shards.values() for s in v) == expected
    local = read_all(output, 2, 3, seed=9, shuffle_buffer=4)
    assert {k: [s["id"] for s in v] for k, v in shards.items()} == {
        k: [s["id"] for s in v] for k, v in local.items()
    }
    reader = VidrayReader(uri, seed=9, frames="jpeg")
    head = [s["id"] for s in itertools.islice(iter(reader), 8)]
    fresh = VidrayReader(uri, seed=9, frames="jpeg")
    state = reader.state_dict()
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in json.dumps(state)  # no credentials
    fresh.load_state_dict(state)
    assert head + [s["id"] for s in fresh] == order(output, seed=9)


def test_ray_read_parquet_over_committed_files_on_s3(ray_head, output, s3_bucket):
    import ray

    upload_dir(output, s3_bucket, "reader/ray")
    # a running job: no _SUCCESS, and a data file no record names
    s3 = boto3.client("s3")
    first = vout.committed_data_files(storage.location(str(output)))[0]
    s3.copy_object(
        Bucket=s3_bucket,
        Key="reader/ray/data/stray-00000.parquet",
        CopySource={"Bucket": s3_bucket, "Key": f"reader/ray/{first}"},
    )
    s3.delete_object(Bucket=s3_bucket, Key=f"reader/ray/{vout.MARKER}")
    paths, fs = parquet_files(f"s3://{s3_bucket}/reader/ray")
    assert len(paths) == 6 and all(p.startswith(f"{s3_bucket}/reader/ray/data/") for p in paths)
    rows = ray.data.read_parquet(paths, filesystem=fs).take_all()
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in rows_of(output))


def test_ray_read_parquet_over_the_committed_files(ray_head, output, tmp_path):
    import ray

    out = copy_output(output, tmp_path / "ray")
    (out / vout.MARKER).unlink()
    files = vout.committed_data_files(storage.location(str(out)))
    shutil.copy(out / files[0], out / "data" / "stray-00000.parquet")  # no record
    paths, fs = parquet_files(str(out))
    assert len(paths) == 6
    rows = ray.data.read_parquet(paths, filesystem=fs).take_all()
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in rows_of(output))
    # the clips layout: one Ray row per clip, flat_map(flatten_clip_row) one per question
    to_clips_layout(out)
    paths, fs = parquet_files(str(out))
    ds = ray.data.read_parquet(paths, filesystem=fs)
    assert ds.count() == 6
    questions = ds.flat_map(flatten_clip_row).take_all()
    assert sorted(r["id"] for r in questions) == sorted(r["id"] for r in rows_of(output))
    # pyarrow reads the same list, clips layout included
    assert pq.ParquetDataset(paths, filesystem=fs).read().num_rows == 6


# --------------------------------------------------------------------- torch


def test_torch_dataloader_workers_cover_every_row_once(output):
    torch = pytest.importorskip("torch")
    reader = VidrayReader(str(output), seed=1, shuffle_buffer=4, frames="jpeg")
    assert isinstance(reader, torch.utils.data.IterableDataset)
    loader = torch.utils.data.DataLoader(
        reader, batch_size=None, num_workers=3, collate_fn=lambda s: s
    )
    ids = [s["id"] for s in loader]
    assert sorted(ids) == sorted(r["id"] for r in rows_of(output))


# --------------------------------------------------------------------- fewer files than readers


@pytest.fixture(scope="module")
def two_files(ray_head, finevideo_dir, tmp_path_factory) -> Path:
    """2 committed data files of 9 rows (three videos, three questions each)."""
    out = tmp_path_factory.mktemp("reader2") / "out"
    summary = convert(
        ConvertOptions.of(
            source="finevideo",
            input=str(finevideo_dir),
            output=str(out),
            size=48,
            samples_per_file=3,
            progress=False,
        )
    )
    assert (summary.rows, summary.error_count) == (18, 0)
    files = vout.committed_data_files(storage.location(str(out)))
    assert [pq.ParquetFile(out / rel).metadata.num_rows for rel in files] == [9, 9]
    return out


def one_file(out: Path, dest: Path, row_group_size: int | None = None) -> tuple[Path, str]:
    """A copy of ``out`` and its first data file, rewritten in row groups of
    ``row_group_size`` rows if given."""
    copy = copy_output(out, dest)
    rel = vout.committed_data_files(storage.location(str(copy)))[0]
    if row_group_size is not None:
        pq.write_table(pq.read_table(copy / rel), copy / rel, row_group_size=row_group_size)
    return copy, rel


def readers_of(out: Path, rel: str, n: int, **kw) -> list[VidrayReader]:
    """The ``n`` readers (one rank of ``n`` workers) of the data file ``rel`` alone."""
    kw.setdefault("frames", "jpeg")
    return [
        VidrayReader(str(out), rank=0, world_size=1, worker_id=w, num_workers=n, files=[rel], **kw)
        for w in range(n)
    ]


@pytest.mark.parametrize(("world", "workers"), [(2, 2), (1, 4), (3, 1), (2, 3)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_fewer_files_than_readers_every_reader_gets_samples(two_files, world, workers, shuffle):
    expected = Counter(key(r) for r in rows_of(two_files))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 18 rows over at most 6 readers: an even split
        shards = read_all(two_files, world, workers, seed=3, shuffle=shuffle, shuffle_buffer=4)
    got = Counter(key(s) for samples in shards.values() for s in samples)
    assert got == expected
    # each reader gets its 18 // n or 18 // n + 1 rows (one sample per row here)
    n = world * workers
    assert sorted(len(v) for v in shards.values()) == sorted(
        (i + 1) * 18 // n - i * 18 // n for i in range(n)
    )
    assert min(len(v) for v in shards.values()) >= 3


def test_fewer_files_than_readers_changes_the_split_with_the_epoch(two_files):
    kw = {"rank": 1, "world_size": 2, "worker_id": 0, "num_workers": 2, "frames": "jpeg"}
    reader = VidrayReader(str(two_files), seed=3, shuffle_buffer=4, **kw)
    epochs = [sorted(s["id"] for s in reader) for _ in range(4)]
    assert all(len(e) in (4, 5) for e in epochs) and len({tuple(e) for e in epochs}) > 1
    plain = VidrayReader(str(two_files), shuffle=False, **kw)
    # no shuffle: rows 9 to 13 of the files laid end to end, the second file's first 4
    assert [s["id"] for s in plain] == [r["id"] for r in rows_of(two_files)][9:13]


def test_one_file_of_several_row_groups_over_four_readers(two_files, tmp_path):
    out, rel = one_file(two_files, tmp_path / "groups", row_group_size=2)
    assert [g["num_rows"] for g in pq.read_metadata(out / rel).to_dict()["row_groups"]] == [
        2, 2, 2, 2, 1
    ]  # fmt: skip
    expected = [r["id"] for r in pq.read_table(out / rel).to_pylist()]
    readers = readers_of(out, rel, 4, shuffle=False)
    # cuts at rows 2, 4 and 6 fall between row groups: whole groups, none read twice
    assert [r.epoch_parts(0, r.shard()) for r in readers] == [
        [Part(rel, ((0, 0, 2),))],
        [Part(rel, ((1, 0, 2),))],
        [Part(rel, ((2, 0, 2),))],
        [Part(rel, ((3, 0, 2), (4, 0, 1)))],
    ]
    got = [[s["id"] for s in r] for r in readers]
    assert [len(g) for g in got] == [2, 2, 2, 3]
    assert [i for g in got for i in g] == expected
    # groups of 3: the cuts fall inside them, and each reader keeps its rows of a group
    pq.write_table(pq.read_table(out / rel), out / rel, row_group_size=3)
    assert readers_of(out, rel, 4, shuffle=False)[1].epoch_parts(0, readers[1].shard()) == [
        Part(rel, ((0, 2, 3), (1, 0, 1)))
    ]
    for seed in (0, 1):
        shards = [
            [s["id"] for s in r] for r in readers_of(out, rel, 4, seed=seed, shuffle_buffer=2)
        ]
        assert [len(g) for g in shards] == [2, 2, 2, 3]
        assert sorted(i for g in shards for i in g) == sorted(expected)


def test_fewer_rows_than_readers_warns_once_with_the_counts(two_files, tmp_path):
    out, rel = one_file(two_files, tmp_path / "few")  # 9 rows in one row group
    expected = Counter(key(r) for r in pq.read_table(out / rel).to_pylist())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shards = read_all(out, 3, 4, files=[rel], seed=2)
        again = VidrayReader(
            str(out), rank=0, world_size=3, worker_id=0, num_workers=4, files=[rel], seed=2
        )
        list(again)
        list(again)  # its second epoch: a reader warns once
    assert Counter(key(s) for v in shards.values() for s in v) == expected
    assert sorted(len(v) for v in shards.values()) == [0] * 3 + [1] * 9
    messages = [str(w.message) for w in caught if str(w.message).startswith("VidrayReader")]
    assert (
        messages
        == [
            f"VidrayReader: {out} has 9 rows in 1 file (1 row group) for 12 readers "
            "(3 ranks x 4 workers): rows per reader 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, "
            "3 readers with none; a rank that runs out first waits on the others "
            "(use fewer readers)"
        ]
        * 2
    )  # by reader 0 of read_all, then by the new reader 0 (not by the 11 others)


@pytest.mark.parametrize(("world", "workers"), [(2, 2), (1, 4)])
def test_a_restored_state_is_exact_under_the_row_split(two_files, world, workers):
    kw = {"seed": 5, "shuffle_buffer": 2, "frames": "jpeg"}
    for rank, wid in itertools.product(range(world), range(workers)):
        shard = {"rank": rank, "world_size": world, "worker_id": wid, "num_workers": workers}
        ref = VidrayReader(str(two_files), **kw, **shard)
        ref.set_epoch(1)
        whole = [s["id"] for s in ref]
        assert len(whole) in (4, 5)
        for k in range(len(whole) + 1):
            reader = VidrayReader(str(two_files), **kw, **shard)
            reader.set_epoch(1)  # the second epoch: another split than the first's
            head = [s["id"] for s in itertools.islice(iter(reader), k)]
            state = json.loads(json.dumps(reader.state_dict()))
            assert state["version"] == 2
            fresh = VidrayReader(str(two_files), **kw, **shard)
            fresh.load_state_dict(state)
            assert head + [s["id"] for s in fresh] == whole, (rank, wid, k)
            assert fresh.epoch == 2


def test_a_version_1_state_fits_only_a_split_by_file(output, two_files):
    shard = {"rank": 1, "world_size": 2, "worker_id": 0, "num_workers": 2, "seed": 1}
    for out, fits in ((output, True), (two_files, False)):  # 6 files, then 2, for 4 readers
        reader = VidrayReader(str(out), frames="jpeg", **shard)
        head = [s["id"] for s in itertools.islice(iter(reader), 2)]
        state = {**reader.state_dict(), "version": 1}
        fresh = VidrayReader(str(out), frames="jpeg", **shard)
        if fits:
            fresh.load_state_dict(state)
            whole = [s["id"] for s in VidrayReader(str(out), frames="jpeg", **shard)]
            assert head + [s["id"] for s in fresh] == whole
        else:
            with pytest.raises(ReaderError, match="version 1 over 2 files for 4 readers"):
                fresh.load_state_dict(state)
