"""End-to-end conversions on the session's Ray head node."""

import contextlib
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from vidray import output as vout
from vidray import synth
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.pipeline import convert
from vidray.schema import ERROR_SCHEMA, OUTPUT_SCHEMA

CORRUPT = "webvid:00000000.tar#1000074.mp4"


class Totals:
    """A progress sink that keeps what the run announced and reported."""

    def __init__(self) -> None:
        self.total: int | None = -1
        self.done = self.samples = 0

    def start(self, total, done):
        self.total, self.done = total, done

    def update(self, summary, samples):
        self.samples += samples

    def close(self):
        pass


def run(src: str, inp, out, progress=None, **kw):
    kw.setdefault("size", 48)
    kw.setdefault("progress", False)
    return convert(ConvertOptions.of(source=src, input=str(inp), output=str(out), **kw), progress)


def fingerprint(out) -> list[tuple]:
    table = vout.read_output(str(out))
    return sorted(
        (r["id"], json.dumps(r["conversations"]), tuple(r["frames"]), tuple(r["frame_timestamps"]))
        for r in table.to_pylist()
    )


def test_webvid_local_to_local(ray_head, webvid_dir, tmp_path):
    out = tmp_path / "out"
    seen = Totals()
    summary = run("webvid", webvid_dir, out, seen, samples_per_file=3)
    assert (summary.samples, summary.rows, summary.errors) == (10, 9, {"decode_error": 1})
    assert (seen.total, seen.samples) == (None, 10)  # tar shards: an open count

    data = vout.read_output(str(out))
    assert data.schema == OUTPUT_SCHEMA
    rows = data.to_pylist()
    assert len({r["id"] for r in rows}) == 9
    for r in rows:
        shard, member = r["video"].split("#")
        assert shard in ("00000000.tar", "00000001.tar") and member.endswith(".mp4")
        assert r["id"] == f"webvid:{r['video']}" and r["source"] == "webvid"
        human, gpt = r["conversations"]
        assert human["from"] == "human" and human["value"] == "<image>\n" + r["query"]
        assert gpt["from"] == "gpt" and gpt["value"] in [c.strip() for c in synth.CAPTIONS]
        assert (r["width"], r["height"]) == (80, 48)
        assert r["clip_start"] is None and r["clip_end"] is None
        assert r["video_fps"] == pytest.approx(10.0)
        assert len(r["frames"]) == 8 == len(r["frame_timestamps"])
        # every frame shows the frame of the video at its reported time
        shown = [synth.read_index_jpeg(f) for f in r["frames"]]
        assert shown == [round(t * 10) for t in r["frame_timestamps"]]
        assert r["frame_timestamps"] == sorted(r["frame_timestamps"])
        assert r["frame_timestamps"][-1] < r["video_duration"]

    errors = vout.read_output(str(out), "errors")
    assert errors.schema == ERROR_SCHEMA
    (err,) = errors.to_pylist()
    assert (err["id"], err["reason"], err["video"]) == (
        CORRUPT,
        "decode_error",
        "00000000.tar#1000074.mp4",
    )
    assert err["message"]

    loc = storage.location(str(out))
    manifest = vout.read_manifest(loc)
    assert manifest["counts"]["samples"] == 10 and manifest["counts"]["errors"] == 1
    units = ["00000000-00000", "00000000-00001", "00000001-00000", "00000001-00001"]
    data_files = vout.committed_data_files(loc)
    assert data_files == sorted(vout.data_file_name(u, "train") for u in units)
    assert vout.committed_error_files(loc) == ["__errors/00000000-00000.parquet"]
    assert (manifest["layout"], manifest["counts"]["clips"]) == ("rows", 9)
    # _SUCCESS lists the shards, their records by reference in one manifest each
    assert [(s["shard"], s["units"]) for s in manifest["shards"]] == [
        ("00000000.tar", 2),
        ("00000001.tar", 2),
    ]
    assert "data_files" not in manifest and manifest["counts"]["shards"] == 2
    assert sorted(p.name for p in (out / vout.SHARDS_DIR).iterdir()) == sorted(
        vout.shard_manifest_name(s["shard"]).split("/")[1] for s in manifest["shards"]
    )
    assert not (out / vout.UNITS_DIR).exists()  # every unit's record is compacted
    import ray

    # Ray Data's own discovery skips the error files (names starting with "_")
    assert ray.data.read_parquet(str(out)).count() == 9
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert on_disk == sorted(data_files + vout.committed_error_files(loc))
    assert pq.read_schema(out / data_files[0]) == OUTPUT_SCHEMA


def test_worker_count_does_not_change_output(ray_head, webvid_dir, tmp_path):
    one = run("webvid", webvid_dir, tmp_path / "one", num_workers=1, samples_per_file=2, seed=5)
    two = run("webvid", webvid_dir, tmp_path / "two", num_workers=2, samples_per_file=2, seed=5)
    assert one.rows == two.rows == 9
    assert fingerprint(tmp_path / "one") == fingerprint(tmp_path / "two")
    other_seed = run("webvid", webvid_dir, tmp_path / "three", samples_per_file=2, seed=6)
    assert other_seed.rows == 9
    assert fingerprint(tmp_path / "three") != fingerprint(tmp_path / "one")


def test_rerun_resumes_and_another_command_is_refused(ray_head, webvid_dir, tmp_path):
    from vidray.pipeline import ConvertError

    out = tmp_path / "out"
    run("webvid", webvid_dir, out, samples_per_file=2)
    first = fingerprint(out)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "data").iterdir()}
    marker = (out / vout.MARKER).read_bytes()
    again = run("webvid", webvid_dir, out, samples_per_file=2)
    assert again.already_complete and (again.samples, again.units) == (10, 6)
    assert (out / vout.MARKER).read_bytes() == marker  # not even the marker rewritten
    (out / vout.MARKER).unlink()  # as a run that died before its commit leaves it
    resumed = run("webvid", webvid_dir, out, samples_per_file=2)
    assert (resumed.units, resumed.resumed_units) == (0, 6)  # nothing redone
    assert {p.name: p.stat().st_mtime_ns for p in (out / "data").iterdir()} == stamps
    assert fingerprint(out) == first
    with pytest.raises(ConvertError, match=r"different command \(differs in: samples_per_file"):
        run("webvid", webvid_dir, out, samples_per_file=5)
    assert fingerprint(out) == first
    run("webvid", webvid_dir, out, samples_per_file=5, overwrite=True)
    assert sorted(os.listdir(out / "data")) == sorted(
        vout.data_file_name(u, "train").removeprefix("data/")
        for u in ("00000000-00000", "00000001-00000")
    )
    assert fingerprint(out) == first


def test_foreign_output_is_refused(ray_head, webvid_dir, tmp_path):
    from vidray.pipeline import ConvertError

    (tmp_path / "out" / "data").mkdir(parents=True)
    with pytest.raises(ConvertError, match="no vidray command claims"):
        run("webvid", webvid_dir, tmp_path / "out")


def test_limit_takes_the_first_samples(ray_head, webvid_dir, tmp_path):
    seen = Totals()
    summary = run("webvid", webvid_dir, tmp_path / "out", seen, limit=7, samples_per_file=4)
    assert summary.samples == 7
    assert (seen.total, seen.done, seen.samples) == (7, 0, 7)  # the bar's total: known
    ids = {r["id"] for r in vout.read_output(str(tmp_path / "out")).to_pylist()}
    shard1 = {i for i in ids if "00000001.tar" in i}
    assert len(ids) == 6 and len(shard1) == 2  # 5 from shard 0 (one corrupt), 2 from shard 1


def test_fps_policy_end_to_end(ray_head, finevideo_dir, tmp_path):
    from vidray.pipeline import ConvertError

    seen = Totals()
    summary = run("finevideo", finevideo_dir, tmp_path / "out", seen, sampling=_fps(2.0, 5))
    assert summary.rows == 18 and summary.error_count == 0
    assert (seen.total, seen.samples) == (6, 6)  # counted from the parquet footers
    for r in vout.read_output(str(tmp_path / "out")).to_pylist():
        assert len(r["frames"]) == 5  # 4-5 s videos at 2 fps exceed the cap of 5
    # Nothing failed, so there is nothing to retry: refused, and nothing is touched.
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*")}
    with pytest.raises(ConvertError, match="records no failed samples"):
        run("finevideo", finevideo_dir, tmp_path / "out", sampling=_fps(2.0, 5), retry_failed=True)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*")} == stamps


def test_a_single_shard_as_input(ray_head, webvid_dir, finevideo_dir, tmp_path):
    from vidray.pipeline import prepare

    out = tmp_path / "out"
    seen = Totals()
    summary = run("webvid", webvid_dir / "00000001.tar", out, seen, limit=50)
    assert (summary.samples, summary.rows) == (5, 5)
    assert seen.total == 5  # a limit above what there is: the total is what there is
    ids = [r["id"] for r in vout.read_output(str(out)).to_pylist()]
    assert len(ids) == 5 and all(i.startswith("webvid:00000001.tar#") for i in ids)
    # named as in a run over the whole folder
    assert [f"data/{n}" for n in os.listdir(out / "data")] == [
        vout.data_file_name("00000001-00000", "train")
    ]
    assert vout.read_manifest(storage.location(str(out)))["inputs"]["root"] == str(webvid_dir)
    # a shard two levels down: FineVideo's data/*.parquet
    (shard,) = sorted((finevideo_dir / "data").glob("*.parquet"))[:1]
    job = prepare(
        ConvertOptions.of(source="finevideo", input=str(shard), output=str(tmp_path / "fv"))
    )
    assert (job.inp.path, job.shards) == (str(finevideo_dir), [f"data/{shard.name}"])


def _fps(rate: float, cap: int):
    from vidray.media.sampling import SamplingPolicy

    return SamplingPolicy(mode="fps", fps=rate, max_frames=cap)


def test_empty_input_is_a_clear_error(ray_head, tmp_path):
    from vidray.pipeline import ConvertError

    (tmp_path / "empty").mkdir()
    with pytest.raises(ConvertError, match=r"nothing found at .*expects INPUT/\*\.tar"):
        run("webvid", tmp_path / "empty", tmp_path / "out")
    assert not Path(tmp_path / "out").exists()


def test_the_session_clusters_workers_preload_vidrays_stages(ray_head):
    """Started as cluster/ starts nodes, a worker has the stages imported before it
    takes work (the flag Ray passes it names them)."""
    import ray

    from vidray.cluster import WORKER_PRELOAD

    @ray.remote(num_cpus=0)
    def worker_args() -> list[str]:
        import sys

        return sys.argv  # the process title is Ray's; its arguments are still here

    args = ray.get(worker_args.remote())
    assert f"--worker-preload-modules={','.join(WORKER_PRELOAD)}" in args


def test_a_conversion_reuses_the_decoder_processes_of_the_one_before(
    ray_head, webvid_dir, tmp_path
):
    """Convert tasks run on the worker processes Ray keeps for this driver, and each
    keeps its decoder process (``stage.worker_decoder``): a second conversion is decoded
    (in part) by decoder processes the first one started, which gain CPU time."""
    from tests.conftest import proc_stat, proc_table

    def decoders() -> dict[int, int]:
        """The session cluster's decoder processes and their CPU ticks so far."""
        table = proc_table()
        ray_pids = {
            pid for pid, (_, cmd) in table.items() if str(ray_head["temp_dir"]).encode() in cmd
        }
        workers = {pid for pid, (parent, _) in table.items() if parent in ray_pids}
        ticks = {}
        for pid, (parent, cmd) in table.items():
            if b"vidray.media.isolate" in cmd and parent in workers:
                with contextlib.suppress(OSError):
                    fields = proc_stat(pid)
                    ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks

    run("webvid", webvid_dir, tmp_path / "a")
    before = decoders()
    assert before, "the decoder processes end with the conversion"
    run("webvid", webvid_dir, tmp_path / "b")
    after = decoders()
    assert any(after.get(pid, 0) > ticks for pid, ticks in before.items())
    assert vout.read_output(str(tmp_path / "b")).num_rows == 9
