"""Long videos: one pass per video for all its spans, units that keep a video's
samples together, rows written as they come, large tar members read by range, and
the typed records that carry all of it."""

import io
import json
import tarfile

import pyarrow.parquet as pq
import pytest

import vidray.read
from tests.helpers.datasets import convert_in_process
from tests.media import distinct_shown, one_clip
from vidray import output as vout
from vidray import records, sources, synth
from vidray.io import storage
from vidray.media import decode, sampling
from vidray.media.sampling import SamplingPolicy
from vidray.read import chunk
from vidray.records import Conversation, Sample, UnitResult, WorkUnit
from vidray.sources import shards

SPANS = [(0.0, 5.0), (2.0, 7.0), (2.0, 7.0), (12.0, 12.4), (None, None), (15.0, 30.0), (9.0, None)]


@pytest.fixture(scope="module")
def video() -> bytes:
    return synth.encode_mp4(synth.VideoSpec(num_frames=200, fps=10, gop=25))  # 20 s


@pytest.mark.parametrize(
    "policy", [SamplingPolicy(num_frames=6), SamplingPolicy(mode="fps", fps=3.0)]
)
def test_one_pass_gives_each_span_what_a_pass_of_its_own_gives(video, policy):
    clips = [decode.Clip(a, b) for a, b in SPANS]
    merged = decode.sample_clips(video, clips=clips, policy=policy, size=48, quality=90)
    assert len(merged.clips) == len(SPANS)
    for span, clip in zip(SPANS, merged.clips, strict=True):
        try:
            alone = one_clip(video, policy=policy, clip=span, size=48, quality=90)
        except decode.DecodeFailure as e:
            # (15, 30) runs past the 20 s video: that clip fails, the others do not
            assert clip == decode.ClipFailure(e.reason, e.message) and e.reason == "bad_span"
            continue
        assert isinstance(clip, decode.ClipFrames)
        assert (merged.info, clip.times, clip.jpegs, merged.size) == alone
        # each JPEG shows the frame on screen at its target
        start, end = clip.span
        frame_times = [i / 10 for i in range(200)]
        want = distinct_shown(frame_times, sampling.targets_for(policy, start, end))
        assert [synth.read_index_jpeg(j) for j in clip.jpegs] == want
    # a frame two spans share is encoded once and handed to both
    assert merged.clips[1].jpegs[0] is merged.clips[2].jpegs[0]


def test_a_video_level_failure_fails_the_whole_pass():
    with pytest.raises(decode.DecodeFailure) as e:
        decode.sample_clips(
            b"not a video", clips=[decode.Clip(0, 1)], policy=SamplingPolicy(), size=32, quality=90
        )
    assert e.value.reason == "decode_error"


def _sample(video: str, k: int, data: bytes | None = None) -> Sample:
    return Sample(f"s{k}", video, data=data, clip=(float(k), float(k + 1)))


def test_units_keep_the_samples_of_one_video_together():
    videos = ["a", "a", "a", "b", "b", "c", "d", "d", "d", "d", "d", "d", "d", "d", "d", "d"]
    samples = [_sample(v, k) for k, v in enumerate(videos)]
    units = [[s.video for s in u] for u in chunk(iter(samples), 2)]
    # a full unit stays open while the next sample is on its last video, up to 4x
    assert units == [
        ["a", "a", "a"],
        ["b", "b"],
        ["c", "d", "d", "d", "d", "d", "d", "d"],
        ["d", "d", "d"],
    ]
    # samples that carry their own bytes are never on "the same video"
    inline = [_sample("x", k, data=b"v") for k in range(5)]
    assert [len(u) for u in chunk(iter(inline), 2)] == [2, 2, 1]
    # neither are error samples
    errors = [Sample(f"e{k}", "x", error=("missing_video", "gone")) for k in range(3)]
    assert [len(u) for u in chunk(iter(errors), 2)] == [2, 1]


def test_work_units_and_results_round_trip_through_arrow():
    conv = Conversation("webvid:1", (("human", "<image>\nq"), ("gpt", "a")), "q")
    unit = WorkUnit(
        "x-00000",
        "x.tar",
        0,
        True,
        [
            Sample("a", "x.tar#a.mp4", data=b"\0mp4", conversations=[conv]),
            Sample("b", "v.mp4", clip=(1.5, None), clip_unit="frame", conversations=[conv]),
            Sample("c", "x.tar#c.mp4", ref=storage.FileRef("/in", "x.tar", 512, 4096)),
            Sample("d", "d", error=("bad_annotation", "no text"), media="frames"),
        ],
        retry=("a",),
    )
    table = records.units_to_arrow([unit])
    assert table.num_rows == 1
    assert records.units_from_arrow(table) == [unit]
    result = UnitResult("x-00000", "x.tar", 0, True, 4, 2, 16, {"decode_error": 1}, "d", None)
    (row,) = records.results_to_arrow([result]).to_pylist()
    assert records.result_from_row(row) == result
    assert UnitResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    # a commit record written before 0.2 held its counts as a JSON string
    old = {**result.to_json(), "errors": '{"decode_error": 1}'}
    assert UnitResult.from_json(old) == result


def test_rows_are_written_in_row_groups_bounded_by_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(vout.writer, "ROW_GROUP_BYTES", 2**20)
    out = storage.location(str(tmp_path))
    writer = vout.UnitWriter(out, "u-00000", "u.json", 0, True)
    frame = bytes(300 * 1024)
    rows = [
        {
            "id": f"r{i}",
            "source": "t",
            "video": "v.mp4",
            "clip_start": None,
            "clip_end": None,
            "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
            "query": "q",
            "frames": [frame] * 2,
            "frame_timestamps": [0.0, 1.0],
            "width": 4,
            "height": 4,
            "video_duration": 2.0,
            "video_fps": 1.0,
        }
        for i in range(10)
    ]
    for row in rows:
        writer.add(vout.OutputRow.from_dict(row))
        # never more than one row group's worth waits in memory
        assert writer._pending_bytes < 2**20
    result = writer.commit(10)
    name = vout.data_file_name("u-00000", "train")
    assert (result.rows, result.frames, result.data_file) == (10, 20, name)
    meta = pq.ParquetFile(tmp_path / name).metadata
    # 600 KiB of frames a row, 1 MiB a group: groups of two rows
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [2] * 5
    assert [r["id"] for r in vout.read_output(str(tmp_path)).to_pylist()] == [r["id"] for r in rows]


def _webvid_tar(path, clips: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for key, video in clips.items():
            meta = json.dumps({"text": f"caption {key}"}).encode()
            for name, data in ((f"{key}.mp4", video), (f"{key}.json", meta)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_large_tar_members_are_read_from_the_tar_by_range(tmp_path, monkeypatch):
    small = synth.encode_mp4(synth.VideoSpec(num_frames=10, seed=1))
    large = synth.encode_mp4(synth.VideoSpec(num_frames=60, seed=2))
    root = tmp_path / "in"
    root.mkdir()
    _webvid_tar(root / "00000000.tar", {"1": small, "2": large, "3": b"not a video" * 20000})
    with monkeypatch.context() as m:  # as from S3: members up to TAR_INLINE_BYTES inline
        m.setattr(shards, "LOCAL_INLINE_BYTES", shards.TAR_INLINE_BYTES)
        inline_rows, inline_errors = convert_in_process("webvid", root, tmp_path / "inline")

    monkeypatch.setattr(shards, "LOCAL_INLINE_BYTES", len(small) + 1)
    monkeypatch.setenv("VIDRAY_TEST_DECODE_LOG", str(tmp_path / "decodes.log"))
    src = sources.get("webvid")
    samples = list(src.samples(storage.location(str(root)), "00000000.tar"))
    assert samples[0].data == small and samples[0].ref is None
    assert samples[1].data is None and samples[1].ref is not None
    # the reference names the member's bytes inside the tar
    with samples[1].ref.open() as f:
        assert f.read() == large
    rows, errors = convert_in_process(
        "webvid", root, tmp_path / "ranged", decoder_module="tests.helpers.counting_child"
    )
    kinds = [line.split()[0] for line in (tmp_path / "decodes.log").read_text().splitlines()]
    assert kinds == ["bytes", "ref", "ref"]
    # the same rows and errors, byte for byte, as when the members travel inline
    assert rows == inline_rows
    assert [(e["id"], e["reason"]) for e in errors] == [
        (e["id"], e["reason"]) for e in inline_errors
    ]


def test_local_tar_members_travel_by_range_and_s3_ones_inline(tmp_path, s3_bucket):
    """A local shard's clips are read by the decoder process from the tar (nothing of
    them travels through Ray); from S3 the read task streams the shard and small clips
    travel in their samples. The units are cut the same either way, by the bytes a
    sample would carry from S3."""
    from tests.conftest import upload_dir

    clips = {str(k): synth.encode_mp4(synth.VideoSpec(num_frames=10, seed=k)) for k in range(5)}
    root = tmp_path / "in"
    root.mkdir()
    _webvid_tar(root / "00000000.tar", clips)
    upload_dir(root, s3_bucket, "tars")
    src = sources.get("webvid")
    local = list(src.samples(storage.location(str(root)), "00000000.tar"))
    remote = list(src.samples(storage.location(f"s3://{s3_bucket}/tars"), "00000000.tar"))
    assert [s.data for s in local] == [None] * 5
    for s, key in zip(local, clips, strict=True):
        with s.ref.open() as f:
            assert f.read() == clips[key]
    assert [s.data for s in remote] == list(clips.values())
    assert [s.ref for s in remote] == [None] * 5
    per_unit = 2 * len(clips["0"]) + 1  # the bytes of two clips close a unit
    with pytest.MonkeyPatch.context() as m:
        m.setattr(vidray.read, "SAMPLE_BYTES_PER_FILE", per_unit)
        cut = [[[s.id for s in u] for u in chunk(iter(x), 100)] for x in (local, remote)]
    assert cut[0] == cut[1] and [len(u) for u in cut[0]] == [3, 2]


def test_units_of_an_earlier_layout_are_refused_not_resumed(tmp_path):
    from tests.helpers.datasets import star
    from vidray.config import ConvertOptions
    from vidray.plan import ConvertError, prepare

    root, out = tmp_path / "star", tmp_path / "out"
    star.build(root)
    convert_in_process("star", root, out)  # committed units, no marker
    opts = ConvertOptions.of(source="star", input=str(root), output=str(out), progress=False)
    run = {"fingerprint": vout.fingerprint(opts.recorded()), "options": opts.recorded()}
    (out / vout.RUN_FILE).write_text(json.dumps(run))  # as vidray 0.1 wrote it
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(ConvertError) as e:
        prepare(opts)
    assert "holds units of layout 1" in str(e.value) and "--overwrite" in str(e.value)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert prepare(opts.replace(overwrite=True)).committed.units == 0


def test_a_unit_that_fails_part_way_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(vout.writer, "ROW_GROUP_ROWS", 1)  # the first row opens the staged file
    writer = vout.UnitWriter(storage.location(str(tmp_path)), "u-00000", "u.json", 0, True)
    writer.add(vout.OutputRow(
        **{"id": "r", "source": "t", "video": "v", "clip_start": None, "clip_end": None,
         "conversations": [{"from": "human", "value": "q"}], "query": "q",
         "frames": [b"\xff\xd8"], "frame_timestamps": [0.0], "width": 1, "height": 1,
         "video_duration": None, "video_fps": None}
    ))  # fmt: skip
    assert list(tmp_path.rglob("*.tmp-*")), "the staged data file is being written"
    writer.abort()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
