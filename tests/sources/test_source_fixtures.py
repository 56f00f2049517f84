"""Every source converts its native-layout fixture end to end, with Ray, from local
disk and from the local S3 server, and gives exactly the rows and error rows the
fixture promises; every row is held to the checks every source gets
(``tests.helpers.datasets.check_rows``)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import upload_dir
from tests.helpers.datasets import builders, check_rows, convert_in_process, indexed
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


def _descending(row: dict) -> None:
    row["frame_timestamps"] = row["frame_timestamps"][::-1]


def _frame_dropped(row: dict) -> None:
    row["frames"] = row["frames"][1:]


def _odd_turns(row: dict) -> None:
    row["conversations"] = row["conversations"][:1]


def _two_humans(row: dict) -> None:
    row["conversations"][1] = {**row["conversations"][1], "from": "human"}


def _second_image(row: dict) -> None:
    row["conversations"][1] = {**row["conversations"][1], "value": "<image> again"}


def _empty_turn(row: dict) -> None:
    row["conversations"][1] = {**row["conversations"][1], "value": " "}


@pytest.mark.parametrize(
    "spoil",
    [_descending, _frame_dropped, _odd_turns, _two_humans, _second_image, _empty_turn],
)
def test_check_rows_refuses_a_spoiled_row(spoil, built_fixture, tmp_path):
    """Each generic check can fail: one video row of a real conversion, spoiled one way,
    is refused, while the rows as converted pass."""
    root, _ = built_fixture("nextqa")
    rows, errors = convert_in_process("nextqa", root, tmp_path / "out")
    check_rows("nextqa", rows, errors)
    spoil(rows[0])
    with pytest.raises(AssertionError):
        check_rows("nextqa", rows, errors)


def test_check_rows_refuses_repeated_ids_and_silent_errors(built_fixture, tmp_path):
    root, _ = built_fixture("nextqa")
    rows, errors = convert_in_process("nextqa", root, tmp_path / "out")
    assert errors
    with pytest.raises(AssertionError, match="duplicate ids"):
        check_rows("nextqa", [*rows, rows[0]], errors)
    with pytest.raises(AssertionError):
        check_rows("nextqa", rows, [{**errors[0], "message": ""}])
