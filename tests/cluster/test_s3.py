"""FineVideo from the local S3 server to the local S3 server, via AWS_ENDPOINT_URL."""

import json
import os

import boto3
import pytest

from tests.conftest import upload_dir
from vidray import output as vout
from vidray.config import ConvertOptions
from vidray.media.sampling import SamplingPolicy
from vidray.pipeline import convert


def test_finevideo_s3_to_s3(ray_head, finevideo_dir, s3_bucket):
    upload_dir(finevideo_dir, s3_bucket, "finevideo")
    out = f"s3://{s3_bucket}/converted/finevideo"
    summary = convert(
        ConvertOptions.of(
            source="finevideo",
            input=f"s3://{s3_bucket}/finevideo",
            output=out,
            size=48,
            samples_per_file=2,
            progress=False,
        )
    )
    assert (summary.samples, summary.rows, summary.error_count) == (6, 18, 0)

    rows = vout.read_output(out).to_pylist()
    assert len(rows) == 18
    by_video: dict[str, list[dict]] = {}
    for r in rows:
        by_video.setdefault(r["video"], []).append(r)
    assert len(by_video) == 6
    for video, group in by_video.items():
        assert video.startswith("data/train-0000") and "#" in video
        assert sorted(r["id"] for r in group) == [f"finevideo:{video}:{k}" for k in range(3)]
        # one decode per video: every question carries the same frames
        assert len({tuple(r["frames"]) for r in group}) == 1
        for r in group:
            k = int(r["id"].rsplit(":", 1)[1])
            assert r["conversations"][1]["value"] == f"Answer {k}."
            assert r["query"] == r["conversations"][0]["value"].removeprefix("<image>\n")

    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=s3_bucket, Prefix="converted/finevideo/")
    keys = sorted(o["Key"] for o in listing["Contents"])
    assert "converted/finevideo/_SUCCESS" in keys
    assert len([k for k in keys if k.endswith(".parquet")]) == 4  # 2 files x 2 units
    marker = s3.get_object(Bucket=s3_bucket, Key="converted/finevideo/_SUCCESS")["Body"].read()
    assert json.loads(marker)["counts"]["rows"] == 18
    # the credentials of the run appear nowhere in what it wrote
    secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
    assert secret not in marker
    for key in keys:
        assert secret not in s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read()


def test_canary_secret_never_reaches_ray_logs(ray_head, finevideo_dir, s3_bucket):
    """Every log file the cluster wrote so far (drivers, workers, raylet, dashboard,
    job logs) is free of the secret key the S3 runs used."""
    upload_dir(finevideo_dir, s3_bucket, "canary")
    convert(
        ConvertOptions.of(
            source="finevideo",
            input=f"s3://{s3_bucket}/canary",
            output=f"s3://{s3_bucket}/canary-out",
            size=32,
            progress=False,
        )
    )
    secret = os.environ["AWS_SECRET_ACCESS_KEY"].encode()
    logs = [p for p in ray_head["temp_dir"].rglob("*") if p.is_file() and "logs" in p.parts]
    assert len(logs) > 10
    leaked = [str(p) for p in logs if secret in p.read_bytes()]
    assert leaked == []


def test_transient_s3_faults_change_nothing(ray_head, s3_proxy, finevideo_dir, s3_bucket):
    """503 SlowDown, connection resets and slow answers on the first attempt of about
    half of all requests; the run must end exactly as a run without faults."""
    upload_dir(finevideo_dir, s3_bucket, "faulty")

    def run(out: str):
        return convert(
            ConvertOptions.of(
                source="finevideo",
                input=f"s3://{s3_bucket}/faulty",
                output=f"s3://{s3_bucket}/{out}",
                size=32,
                samples_per_file=2,
                progress=False,
            )
        )

    run("clean")
    s3_proxy.faults = True
    try:
        summary = run("faulted")
    finally:
        s3_proxy.faults = False
    assert summary.rows == 18 and summary.error_count == 0
    assert min(s3_proxy.injected[f] for f in ("503", "reset", "slow")) > 0

    def content(out: str) -> list[tuple]:
        rows = vout.read_output(f"s3://{s3_bucket}/{out}").to_pylist()
        return sorted((r["id"], tuple(r["frames"]), json.dumps(r["conversations"])) for r in rows)

    assert content("faulted") == content("clean")
    s3 = boto3.client("s3")
    keys = {
        prefix: sorted(
            o["Key"].split("/", 1)[1]
            for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix=f"{prefix}/")["Contents"]
        )
        for prefix in ("clean", "faulted")
    }
    assert keys["faulted"] == keys["clean"]  # no stray or missing object


def test_retries_are_bounded_in_one_place(s3_proxy):
    """A request that always fails is tried S3_MAX_ATTEMPTS times in all: s3fs and
    botocore do not multiply each other's retries."""
    from vidray.io import storage

    before = s3_proxy.requests["/always-503-bucket"]
    with pytest.raises(storage.StorageError, match="cannot reach"):
        storage.check_reachable(storage.location("s3://always-503-bucket/x"))
    assert s3_proxy.requests["/always-503-bucket"] - before == storage.S3_MAX_ATTEMPTS


def test_the_videos_root_is_listed_once_per_job(ray_head, s3_proxy, s3_bucket, tmp_path):
    """CinePile's train split is three annotation files, each read by its own task;
    its videos are found by name from one listing of the videos root, which the driver
    makes once and hands to every task."""
    from urllib.parse import quote

    from tests.helpers.datasets import cinepile

    cinepile.build(tmp_path / "cinepile")
    upload_dir(tmp_path / "cinepile", s3_bucket, "listing/cinepile")
    videos = quote("listing/cinepile/yt_videos/", safe="")

    def listings() -> int:  # recursive listings (an empty delimiter) of the videos root
        return sum(
            n
            for key, n in s3_proxy.seen.items()
            if "list-type=2" in key and f"prefix={videos}&delimiter=&" in key
        )

    before = listings()
    summary = convert(
        ConvertOptions.of(
            source="cinepile",
            input=f"s3://{s3_bucket}/listing/cinepile",
            output=str(tmp_path / "out"),
            size=32,
            progress=False,
        )
    )
    assert summary.rows > 0 and summary.manifest["inputs"]["shards"] == 3  # three tasks
    assert listings() - before == 1


def _noise_video(path, seconds: int, fps: int = 10, gop: int = 20) -> None:
    """High-entropy H.264 (lossless noise): many bytes per second, as long HD video is."""
    import av
    import numpy as np

    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"qp": "0", "preset": "ultrafast", "g": str(gop), "bf": "0"}
        for _ in range(seconds * fps):
            img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_a_long_video_is_read_by_ranges_once_for_all_its_spans(
    ray_head, s3_proxy, s3_bucket, tmp_path
):
    """Three spans of one 80 s video on S3: the decoder process opens it by reference
    and reads the ranges around the three spans' frames, not the file."""
    root = tmp_path / "internvid"
    (root / "videos").mkdir(parents=True)
    video = root / "videos" / "LongVideo01.mp4"
    _noise_video(video, seconds=80)
    lines = [
        {"YoutubeID": "LongVideo01", "Start_timestamp": f"00:00:{a:02d}.000",
         "End_timestamp": f"00:00:{b:02d}.000", "Caption": f"span {a}"}
        for a, b in ((4, 6), (30, 32), (56, 58))
    ]  # fmt: skip
    (root / "InternVid-10M-flt.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    upload_dir(root, s3_bucket, "long/internvid")
    key = f"/{s3_bucket}/long/internvid/videos/LongVideo01.mp4"
    before = s3_proxy.served[key]
    summary = convert(
        ConvertOptions.of(
            source="internvid",
            input=f"s3://{s3_bucket}/long/internvid",
            output=str(tmp_path / "out"),
            sampling=SamplingPolicy(num_frames=4),
            size=32,
            progress=False,
        )
    )
    assert (summary.rows, summary.frames, summary.error_count) == (3, 12, 0)
    served = s3_proxy.served[key] - before
    size = video.stat().st_size
    # about 2 s of video before each span's first frame (a GOP), the span itself, and
    # at most one 2 MiB read-ahead block past each: well under half of the file
    assert 0 < served < 0.5 * size, (served, size)
