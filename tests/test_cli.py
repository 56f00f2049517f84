"""The command line as a user runs it: exit codes and one-line messages."""

import fcntl
import os
import pty
import shlex
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.conftest import wait_until_gone


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
        (
            ["convert", "webvid", "/tmp", "/tmp/o", "--num-frames", "0"],
            "must be a whole number >= 1",
        ),
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


def tree(path: Path) -> dict[str, tuple[int, int]] | None:
    """Every file under ``path`` with its size and mtime; None when nothing is there."""
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {p.relative_to(path).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in files}


def one_error_line(res: subprocess.CompletedProcess, message: str) -> None:
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.splitlines() == [res.stderr.strip()], "not one line"
    assert res.stderr.startswith("vidray: error: ") and message in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("retry-failed-new", "--retry-failed: {out} holds no output of this command"),
        ("output-is-file", "OUTPUT {out} is a file, not a folder"),
        ("output-below-file", "lies below"),
        ("input-missing", "INPUT {inp} does not exist"),
        ("input-not-a-shard", "is a file but not a webvid shard; pass the dataset's folder"),
        ("bad-number", "--num-frames must be a whole number >= 1, got 'abc'"),
        ("bad-float", "--sample-timeout must be a number > 0, got 'nan'"),
        ("split-for-shards", "--videos and --split do not apply"),
        ("cluster-unreachable", "cannot reach the Ray cluster at 127.0.0.1:9"),
    ],
)
def test_refused_commands_change_nothing(webvid_dir, tmp_path, case, message):
    inp, out, extra = webvid_dir, tmp_path / "new-output", []
    if case == "retry-failed-new":
        extra = ["--retry-failed"]
    elif case == "output-is-file":
        out.write_text("not a folder")
    elif case == "output-below-file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "out"
    elif case == "input-missing":
        inp = tmp_path / "nowhere"
    elif case == "input-not-a-shard":
        inp = tmp_path / "notes.txt"
        inp.write_text("x")
    elif case == "bad-number":
        extra = ["--num-frames", "abc"]
    elif case == "bad-float":
        extra = ["--sample-timeout", "nan"]
    elif case == "split-for-shards":
        extra = ["--split", "val"]
    before = tree(tmp_path)
    # An unreachable cluster: every other refusal comes before Ray is ever contacted,
    # and this one (all else being right) within seconds, before anything is written.
    res = vidray("convert", "webvid", str(inp), str(out), *extra, "--ray-address", "127.0.0.1:9")
    one_error_line(res, message.format(out=out, inp=inp))
    assert tree(tmp_path) == before


def test_export_into_a_file_is_refused(tmp_path):
    dest = tmp_path / "dest"
    dest.write_text("a file")
    one_error_line(vidray("export", "llava", str(tmp_path), str(dest)), f"DEST {dest} is a file")
    assert dest.read_text() == "a file"


def test_convert_exits_0_then_a_rerun_is_complete_at_once(ray_head, webvid_dir, tmp_path):
    out = tmp_path / "out"
    args = ["convert", "webvid", str(webvid_dir), str(out), "--size", "32", "--num-frames", "2"]
    res = vidray(*args, "--ray-address", ray_head["address"])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "[vidray] 10 samples, 9 rows, 1 errors (decode_error=1)" in res.stderr  # last line
    # Quiet: every line on stderr is vidray's own, none of Ray's warnings or logs.
    assert [line for line in res.stderr.splitlines() if not line.startswith("[vidray] ")] == []
    (summary,) = res.stdout.splitlines()
    assert summary.startswith("10 samples -> 9 rows, 18 frames, 1 errors (decode_error=1)")
    assert str(out) in summary
    done = tree(out)

    # The same command again: complete, said in one line, without contacting Ray (the
    # address is unreachable: connecting would fail after a long wait).
    again = subprocess.run(
        [sys.executable, "-m", "vidray", *args, "--ray-address", "127.0.0.1:9"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    (line,) = again.stdout.splitlines()
    assert line.startswith("already complete: 10 samples -> 9 rows, 18 frames, 1 errors")
    assert tree(out) == done

    # Another command into it is refused and changes nothing, the marker included.
    other = vidray(*args[:-1], "3", "--ray-address", "127.0.0.1:9")
    one_error_line(other, "holds the output of a different command (differs in: sampling)")
    assert tree(out) == done


def test_progress_bar_on_a_terminal_and_verbose_ray_lines(ray_head, webvid_dir, tmp_path):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # 160 columns
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidray", "convert", "webvid", str(webvid_dir),
         str(tmp_path / "out"), "--limit", "4", "--size", "32", "--num-frames", "2",
         "--ray-address", ray_head["address"], "--verbose"],
        stdout=subprocess.PIPE, stderr=slave, text=True,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.wait(timeout=120) == 0, seen.decode(errors="replace")[-2000:]
    bar = seen.decode(errors="replace")
    # tqdm's bar: done of the known total (--limit), percentage, rate, errors, shards.
    assert "100%" in bar and "4/4" in bar and "sample/s" in bar
    assert "errors" in bar and "shards 1/1" in bar
    assert "[vidray]" not in bar  # no plain lines on a terminal
    # --verbose: Ray's own lines stay on the terminal (quiet runs are checked above).
    assert "Connected to Ray cluster" in bar
    assert proc.stdout.read().startswith("4 samples -> ")


def test_demo_ends_with_next_steps_that_work(tmp_path):
    """The demo on its own local Ray instance: its last lines are commands a user can
    paste, and each runs exactly as printed from another directory, in a shell that has
    nothing but the system's PATH (no environment activated, no ``vidray`` on PATH);
    nothing of the instance is left afterwards."""
    demo_dir = tmp_path / "demo dir"  # a space: the printed paths are quoted for the shell
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidray", "demo", str(demo_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
    )  # fmt: skip
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert stderr == ""  # Ray's lines are in its log folder
    assert wait_until_gone(proc.pid) == []
    lines = stdout.splitlines()
    done = lines.index(next(x for x in lines if x.startswith("demo done")))
    nxt = lines.index(next(x for x in lines if x.startswith("Next")))
    ran, steps = lines[done + 1 : nxt], lines[nxt + 1 :]
    converts = [shlex.split(x) for x in ran]
    assert [c[2] for c in converts] == ["webvid", "finevideo"]
    assert len(steps) == 4 and all(x.startswith("  ") for x in steps)
    webvid_rows = int(lines[1].split(" samples -> ")[1].split()[0])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    home.mkdir()

    def as_printed(line: str) -> subprocess.CompletedProcess:
        """``line`` in a clean shell: only PATH and HOME set, another directory."""
        return subprocess.run(
            ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={home}", "bash", "-c", line],
            cwd=elsewhere, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    again = as_printed(ran[0])
    assert again.returncode == 0 and again.stdout.startswith("already complete: "), again.stderr
    results = [as_printed(line) for line in steps]
    for line, result in zip(steps, results, strict=True):
        assert result.returncode == 0, f"{line}\n{result.stderr[-2000:]}"
    _, reported, read, loaded = results
    assert (demo_dir / "export" / "webvid.json").exists()
    assert (demo_dir / "export" / "dataset_info.json").exists()
    assert reported.stdout.strip().endswith("index.html")
    assert int(read.stdout) == webvid_rows == 15
    assert "num_rows: 15" in loaded.stdout, loaded.stderr[-2000:]
    assert list(elsewhere.iterdir()) == []  # nothing written where the lines ran


def test_unreadable_input_and_unwritable_output(tmp_path):
    """Permission errors are one line too. Root reads everything, so the command runs
    as an unprivileged user where the test runs as root."""
    import shutil
    import tempfile

    repo = str(Path(__file__).resolve().parent.parent)
    as_user: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        as_user = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if setpriv else []
        env = {**os.environ, "PYTHONPATH": repo}
        probe = subprocess.run([*as_user, sys.executable, "-c", "import vidray"], env=env,
                               cwd="/", capture_output=True)  # fmt: skip
        if not as_user or probe.returncode != 0:
            pytest.skip("no unprivileged user can run this checkout")
    root = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        root.chmod(0o777)
        locked = root / "locked"
        locked.mkdir(mode=0o700)
        if os.geteuid() != 0:
            locked.chmod(0o000)

        def run(inp: Path, out: Path) -> subprocess.CompletedProcess:
            cmd = [
                *as_user,
                sys.executable,
                "-m",
                "vidray",
                "convert",
                "webvid",
                str(inp),
                str(out),
            ]
            return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd="/",
                                  env={**os.environ, "PYTHONPATH": repo})  # fmt: skip

        one_error_line(run(locked, root / "out"), f"INPUT {locked}: permission denied")
        one_error_line(run(root, locked / "out"), f"OUTPUT {locked / 'out'}: permission denied")
        assert sorted(os.listdir(root)) == ["locked"] and not (locked / "out").exists()
    finally:
        locked.chmod(0o700)
        shutil.rmtree(root)
