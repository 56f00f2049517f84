"""The trainer-side reader over a real converted OUTPUT (FineVideo, 3 questions per
video, one video per file), local and on the local S3 server, in both layouts."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import upload_dir
from tests.layouts import reopen_shard
from vidray import output as vout
from vidray import synth
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.pipeline import convert
from vidray.reader import ReaderError, VidrayReader, decode_frames, parquet_files
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
