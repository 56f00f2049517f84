"""``vidray convert``: Ray joined or started for the run and left as it was found."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator

from vidray.cli.parser import _error
from vidray.cluster import Unreachable
from vidray.console import Console, quiet


@contextlib.contextmanager
def ray_session(address: str | None, verbose: bool) -> Iterator[Console]:
    """Ray joined (or a local instance started) with its lines going to its log folder
    unless ``verbose``; on the way out, however it is left (Ctrl-C included), Ray is
    disconnected, what this process started is stopped, and the terminal is back. A
    connection the caller made before (the CLI called in-process) is left to it."""
    from vidray import cluster

    ray = sys.modules.get("ray")
    theirs = ray is not None and ray.is_initialized()
    console = quiet(verbose)
    log, failed = console.log, False
    try:
        cluster.connect(address, quiet=not verbose, own_processes=True)
        yield console
    except Exception as e:
        from vidray.plan import ConvertError

        failed = not isinstance(e, Unreachable | ConvertError)
        raise
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # cleanup runs to the end
        try:
            if not theirs:
                cluster.stop()
        finally:
            console.restore()
            signal.signal(signal.SIGINT, previous)
        if failed and log is not None:  # a bug: its traceback follows, Ray's side is here
            print(f"vidray: Ray's own messages are in {log}", file=sys.stderr)


def run_convert(opts, verbose: bool = False) -> int:
    """Check everything, then (unless OUTPUT is already complete) join or start Ray,
    convert and commit. Every refusal happens before Ray starts and before OUTPUT is
    touched."""
    from vidray.pipeline import ConvertError, prepare, run
    from vidray.progress import make_progress

    try:
        job = prepare(opts)
    except ConvertError as e:
        return _error(e)
    if job.complete is not None:  # reported without starting Ray
        print(run(job).describe())
        return 0
    try:
        with ray_session(opts.run.ray_address, verbose) as console:
            summary = run(job, make_progress(opts.run.progress, console.err))
    except ConvertError as e:  # found once the cluster is known (no GPU for nvdec)
        return _error(e)
    print(summary.describe())
    return 0
