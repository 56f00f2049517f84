"""The terminal belongs to vidray's own lines.

Ray writes to the process's standard error from C++ (core-worker lines), from Python
logging and through ``warnings``. ``quiet()`` points file descriptor 2 at a log file
under Ray's temp folder, so all of that lands there, and hands back a stream on the
original standard error for vidray's messages, progress and (for a bug) tracebacks.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass
class Console:
    #: Where vidray's own lines go: the standard error the user sees.
    err: TextIO
    #: Where Ray's messages went, when they were redirected.
    log: Path | None = None

    def restore(self) -> None:
        """Give file descriptor 2 back to the terminal (after ``quiet``)."""
        if self.err is sys.stderr:
            return
        sys.stderr.flush()
        self.err.flush()
        os.dup2(self.err.fileno(), 2)
        self.err.close()
        self.err = sys.stderr


def ray_log_root() -> Path:
    """The folder Ray keeps its sessions and logs in (``RAY_TMPDIR``, else /tmp/ray)."""
    return Path(os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()) / "ray"


def quiet(verbose: bool) -> Console:
    """Redirect this process's file descriptor 2 to ``<ray temp>/vidray/<name>.log``
    (unless ``verbose``) and return the console on the original standard error."""
    if verbose:
        return Console(sys.stderr)
    folder = ray_log_root() / "vidray"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / f"convert-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return Console(sys.stderr)  # nowhere to put Ray's lines: keep them visible
    sys.stderr.flush()
    original = os.dup(2)
    os.dup2(fd, 2)
    os.close(fd)
    err = os.fdopen(original, "w", buffering=1, encoding="utf-8", errors="replace")
    return Console(err, log)
