"""Every source converts its native-layout fixture end to end, with Ray, from local
disk and from the local S3 server, and gives exactly the rows and error rows the
fixture promises; every row is held to the checks every source gets
(``tests.helpers.datasets.check_rows``)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import upload_dir
from tests.helpers.datasets import builders, check_rows, indexed
from vidray import output as vout
from vidray import sources
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.media.sampling import SamplingPolicy
from vidray.pipeline import convert

BUILDERS = builders()


def test_every_registered_source_has_a_fixture():
    assert set(BUILDERS) == set(sources.REGISTRY) - {"webvid", "finevideo"}


@pytest.mark.parametrize("where", ["local", "s3"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_source_converts_its_fixture(name, where, built_fixture, ray_head, s3_bucket, tmp_path):
    root, expected = built_fixture(name)
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

    expected.assert_rows(rows, errors)
    assert summary.rows == len(rows)
    assert summary.errors == dict(Counter(expected.errors.values()))
    # files the source does not read are named in _SUCCESS, not silently left out
    assert summary.skipped_files == expected.skipped
    assert vout.read_manifest(storage.location(out))["skipped_files"] == {
        "count": len(expected.skipped),
        "files": expected.skipped,
    }
    check_rows(name, rows, errors)
    assert expected.check is not None, "a fixture must check some rows' text exactly"
    expected.check(indexed(rows))
