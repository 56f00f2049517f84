"""Every source converts its native-layout fixture end to end, with Ray, from local
disk and from the local S3 server, and gives exactly the rows and error rows the
fixture promises."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import upload_dir
from tests.helpers.datasets import Expected, builders
from vidray import output as vout
from vidray import sources
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.media.sampling import SamplingPolicy
from vidray.pipeline import convert

BUILDERS = builders()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory):
    cache: dict[str, tuple[Path, Expected]] = {}

    def get(name: str) -> tuple[Path, Expected]:
        if name not in cache:
            root = tmp_path_factory.mktemp(f"fixture-{name}")
            cache[name] = (root, BUILDERS[name](root))
        return cache[name]

    return get


def test_every_registered_source_has_a_fixture():
    assert set(BUILDERS) == set(sources.REGISTRY) - {"webvid", "finevideo"}


@pytest.mark.parametrize("where", ["local", "s3"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_source_converts_its_fixture(name, where, built, ray_head, s3_bucket, tmp_path):
    root, expected = built(name)
    options = dict(expected.options)
    # The S3 variant reads annotations and videos from S3 and writes locally: writing to
    # S3 is source-independent and tested once (tests/cluster/test_s3.py).
    out = str(tmp_path / "out")
    if where == "local":
        base = str(root)
    else:
        upload_dir(root, s3_bucket, f"fixtures/{name}")
        base = f"s3://{s3_bucket}/fixtures/{name}"
    if "videos" in options:
        options["videos"] = f"{base}/{options['videos']}"
    summary = convert(
        ConvertOptions.of(
            source=name,
            input=base,
            output=out,
            sampling=SamplingPolicy(num_frames=4),
            size=32,
            samples_per_file=3,
            num_workers=1,
            progress=False,
            **options,
        )
    )
    rows = vout.read_output(out).to_pylist()
    errors = vout.read_output(out, "errors").to_pylist()

    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate row ids"
    assert set(ids) == expected.rows
    assert {e["id"]: e["reason"] for e in errors} == expected.errors
    assert len(errors) == len(expected.errors)
    assert summary.rows == len(rows)
    assert summary.errors == dict(Counter(expected.errors.values()))
    # files the source does not read are named in _SUCCESS, not silently left out
    assert summary.skipped_files == expected.skipped
    assert vout.read_manifest(storage.location(out))["skipped_files"] == {
        "count": len(expected.skipped),
        "files": expected.skipped,
    }
    images = getattr(sources.REGISTRY[name], "media", "video") == "image"
    for r in rows:
        assert r["source"] == name
        assert r["frames"] and all(f.startswith(b"\xff\xd8") for f in r["frames"])
        if images:  # image rows: no time axis
            assert r["frame_timestamps"] == []
            assert (r["clip_start"], r["clip_end"], r["video_duration"], r["video_fps"]) == (
                (None,) * 4
            )
        else:
            assert len(r["frames"]) == len(r["frame_timestamps"])
            assert r["label"] is None and r["classname"] is None
        turns = r["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
        assert turns[0]["value"].startswith("<image>\n")
        assert all(t["value"].strip() for t in turns)
        assert sum(t["value"].count("<image>") for t in turns) == 1
        if r["clip_start"] is not None:
            assert r["clip_end"] > r["clip_start"]
            # frames come from inside the span (the frame shown at a target may start
            # up to one frame interval before it)
            assert min(r["frame_timestamps"]) >= r["clip_start"] - 0.5
            assert max(r["frame_timestamps"]) < r["clip_end"]
    assert expected.check is not None, "a fixture must check some rows' text exactly"
    expected.check(rows)
