"""The command line as a user runs it: exit codes and one-line messages."""

import os
import subprocess
import sys

import pytest


def vidray(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vidray", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_commands_and_options():
    top = vidray("--help")
    assert top.returncode == 0
    for word in ("convert", "sources", "demo"):
        assert word in top.stdout
    conv = vidray("convert", "--help")
    for opt in ("--num-frames", "--fps", "--max-frames", "--size", "--jpeg-quality",
                "--num-workers", "--prompts", "--seed", "--limit", "--ray-address"):  # fmt: skip
        assert opt in conv.stdout


def test_sources_shows_layouts():
    res = vidray("sources")
    assert res.returncode == 0
    assert "webvid" in res.stdout and "*.tar" in res.stdout
    assert "finevideo" in res.stdout and "data/*.parquet" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["convert", "nosuch", "/tmp", "/tmp/o"], "unknown source 'nosuch'"),
        (["convert", "webvid", "/tmp", "/tmp/o", "--num-frames", "0"], "must be a whole number >= 1"),
        (["convert", "webvid", "/tmp", "/tmp/o", "--jpeg-quality", "200"], "1..100"),
        (["convert", "webvid", "gs://bucket/x", "/tmp/o"], "unsupported storage URI"),
    ],
)
def test_bad_arguments_fail_in_one_line(args, message):
    res = vidray(*args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_nothing_found_at_input(tmp_path):
    res = vidray("convert", "webvid", str(tmp_path), str(tmp_path / "out"))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("vidray: error: nothing found at")
    assert "Traceback" not in res.stderr


def test_unreachable_storage(tmp_path):
    res = vidray(
        "convert", "webvid", "s3://some-bucket/webvid", str(tmp_path / "out"),
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("vidray: error: cannot reach s3://some-bucket/webvid")
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in res.stderr + res.stdout


def test_credentials_in_uri_are_refused_and_not_echoed(tmp_path):
    res = vidray("convert", "webvid", "s3://AKIAXXXX:TOPSECRET@bucket/x", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "must not carry credentials" in res.stderr
    assert "TOPSECRET" not in res.stderr + res.stdout


def test_convert_exits_0_with_failed_samples_and_shows_progress(ray_head, webvid_dir, tmp_path):
    res = vidray(
        "convert", "webvid", str(webvid_dir), str(tmp_path / "out"),
        "--ray-address", ray_head["address"], "--size", "32", "--num-frames", "2",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "[vidray] 10 samples, 9 rows, 1 errors" in res.stderr  # the final progress line
    # (Ray may forward its own log lines to stdout too: find the summary among them.)
    (summary,) = [line for line in res.stdout.splitlines() if " samples -> " in line]
    assert summary.startswith("10 samples -> 9 rows, 18 frames, 1 errors (decode_error=1)")
    assert str(tmp_path / "out") in summary
