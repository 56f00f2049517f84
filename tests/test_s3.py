"""FineVideo from the local S3 server to the local S3 server, via AWS_ENDPOINT_URL."""

import json
import os

import boto3

from tests.conftest import upload_dir
from vidray import sink
from vidray.config import ConvertOptions
from vidray.pipeline import convert


def test_finevideo_s3_to_s3(ray_head, finevideo_dir, s3_bucket):
    upload_dir(finevideo_dir, s3_bucket, "finevideo")
    out = f"s3://{s3_bucket}/converted/finevideo"
    summary = convert(
        ConvertOptions(
            source="finevideo",
            input=f"s3://{s3_bucket}/finevideo",
            output=out,
            size=48,
            samples_per_file=2,
            progress=False,
        )
    )
    assert (summary.samples, summary.rows, summary.error_count) == (6, 18, 0)

    rows = sink.read_output(out).to_pylist()
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
        ConvertOptions(
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
