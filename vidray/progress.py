"""Progress of a conversion: a bar on a terminal, plain periodic lines elsewhere (CI,
``ray job submit`` logs), nothing with ``--quiet``."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from vidray.summary import Summary


class Progress(Protocol):
    def start(self, total: int | None, done: int) -> None:
        """``total``: samples of the whole run when known (None: an open count);
        ``done``: those an earlier run committed."""

    def update(self, summary: Summary, samples: int) -> None:
        """A unit of ``samples`` samples was committed; ``summary`` holds the totals."""

    def close(self) -> None: ...


class NoProgress:
    def start(self, total: int | None, done: int) -> None:
        pass

    def update(self, summary: Summary, samples: int) -> None:
        pass

    def close(self) -> None:
        pass


def _errors(summary: Summary) -> str:
    reasons = ", ".join(f"{k}={v}" for k, v in sorted(summary.errors.items()))
    return f"{summary.error_count} errors" + (f" ({reasons})" if reasons else "")


class LineProgress:
    """One line every ``every_s`` seconds and a last one at the end."""

    def __init__(self, stream: TextIO, every_s: float = 5.0) -> None:
        self.stream, self.every_s = stream, every_s
        self.total: int | None = None
        self.done = 0
        self.summary: Summary | None = None

    def start(self, total: int | None, done: int) -> None:
        self.total, self.done = total, done
        self.begun = self.last = time.monotonic()

    def update(self, summary: Summary, samples: int) -> None:
        self.summary, self.shown = summary, False
        if time.monotonic() - self.last >= self.every_s:
            self._line()

    def close(self) -> None:
        if self.summary is not None and not self.shown:
            self._line()

    def _line(self) -> None:
        s = self.summary
        assert s is not None
        self.shown = True
        now = self.last = time.monotonic()
        rate = s.samples / max(now - self.begun, 1e-9)
        of = f" of {self.total - self.done}" if self.total is not None else ""
        print(
            f"[vidray] {s.samples}{of} samples, {s.rows} rows, {_errors(s)}, "
            f"{s.units} files, {rate:.1f} samples/s",
            file=self.stream,
            flush=True,
        )


class BarProgress:
    """A tqdm bar: samples done of the total (or an open count), rate, ETA, errors by
    reason and shards finished."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar = None

    def start(self, total: int | None, done: int) -> None:
        from tqdm import tqdm

        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError):
            width = 0
        self.bar = tqdm(
            total=total,
            initial=done,
            unit="sample",
            file=self.stream,
            # A terminal that reports no size (a bare pty) would get an empty bar.
            dynamic_ncols=width > 0,
            ncols=None if width > 0 else 100,
            smoothing=0.1,
            desc="vidray",
        )

    def update(self, summary: Summary, samples: int) -> None:
        assert self.bar is not None
        self.bar.set_postfix_str(
            f"{_errors(summary)}, shards {summary.shards_done}/{summary.shards}", refresh=False
        )
        self.bar.update(samples)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def make_progress(enabled: bool, stream: TextIO) -> Progress:
    """A bar when ``stream`` is a terminal, plain lines otherwise, none when disabled."""
    if not enabled:
        return NoProgress()
    if stream.isatty():
        return BarProgress(stream)
    return LineProgress(stream)
