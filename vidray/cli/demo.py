"""``vidray demo``: small WebVid and FineVideo inputs made and converted locally, a
report, and the next steps as commands that run as printed."""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from vidray.cli.convert import ray_session
from vidray.cli.options import options_from_args
from vidray.cli.parser import _error, build_parser


def demo_commands(root: Path) -> dict[str, list[str]]:
    """The commands the demo runs, as a user would type them."""
    extra = ["--samples-per-file", "4"]
    return {
        name: ["vidray", "convert", name, str(root / name), str(root / "out" / name), *extra]
        for name in ("webvid", "finevideo")
    }


def demo_programs() -> tuple[list[str], str]:
    """How the demo's next steps name vidray and Python: by the absolute paths of the
    console script beside this interpreter (``python -m vidray`` where there is none)
    and of the interpreter itself, so each line runs as printed from any directory,
    with no environment activated (``uv run`` puts them in the project's ``.venv``)."""
    python = sys.executable
    script = Path(python).parent / "vidray"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], python
    return [python, "-m", "vidray"], python


def _demo_inputs(root: Path) -> tuple[list[str], int, float]:
    from vidray import synth

    t0 = time.monotonic()
    # One WebVid clip is random bytes, to show how a bad sample is reported.
    keys = synth.write_webvid(root / "webvid", shards=2, per_shard=8, corrupt={"1000111"})
    qas = synth.write_finevideo(root / "finevideo", files=2, per_file=3)
    return keys, qas, time.monotonic() - t0


def cmd_demo(directory: str | None) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from vidray.pipeline import ConvertError, prepare, run
    from vidray.progress import NoProgress
    from vidray.report import report

    root = Path(directory or tempfile.mkdtemp(prefix="vidray-demo-")).resolve()
    t0 = time.monotonic()
    commands = demo_commands(root)
    # The inputs are made while Ray starts (encoding waits on FFmpeg, Ray on its
    # processes): start-up is paid once, for both.
    with ThreadPoolExecutor(1) as pool:
        made = pool.submit(_demo_inputs, root)
        with ray_session(None, verbose=False):
            keys, qas, made_s = made.result()
            print(
                f"generated {len(keys)} WebVid clips (one corrupt) and 6 FineVideo videos "
                f"({qas} QAs) in {root} ({made_s:.1f} s, while Ray started)",
                flush=True,
            )
            try:
                jobs = {n: prepare(options_from_args(build_parser().parse_args(argv[1:])))
                        for n, argv in commands.items()}  # fmt: skip
            except ConvertError as e:  # e.g. DIR/out holds something else
                return _error(e)
            for name, job in jobs.items():
                print(f"{name:10s} {run(job, NoProgress()).describe()}", flush=True)
    out = root / "out" / "webvid"
    page = report(str(out), str(root / "report"))
    print(f"report     {page}  (open it in a browser: counts, errors, sample frames)", flush=True)
    vidray, python = demo_programs()
    q = shlex.quote
    where = json.dumps(str(out))  # a Python string literal; no single quote for the shell
    count = "import pyarrow.dataset as ds; "
    count += f'print(ds.dataset({where}, format="parquet").to_table().num_rows)'
    load = f'import datasets; print(datasets.load_dataset({where}, split="train"))'
    print(
        f"demo done in {time.monotonic() - t0:.1f} s. It ran:\n"
        + "".join(f"  {shlex.join([*vidray, *argv[1:]])}\n" for argv in commands.values())
        + "Next (each line runs as printed, from any directory):\n"
        f"  {shlex.join([*vidray, 'export', 'llamafactory', str(out), str(root / 'export')])}"
        "   # records + frames for LLaMA-Factory\n"
        f"  {shlex.join([*vidray, 'report', str(out), str(root / 'report')])}"
        "   # the HTML report again\n"
        f"  {q(python)} -c {q(count)}\n"
        f"  {q(python)} -c {q(load)}   # with datasets",
        flush=True,
    )
    return 0
