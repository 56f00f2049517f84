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


class Counts:
    """What a display counts: samples committed in all, ``earlier`` (by the runs before
    this one, which a resumed run keeps) plus ``this_run``'s, of ``total`` (None: an open
    count)."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.earlier = 0
        self.this_run = 0

    def start(self, total: int | None, done: int) -> None:
        self.total, self.earlier, self.this_run = total, done, 0

    def add(self, samples: int) -> None:
        self.this_run += samples

    @property
    def done(self) -> int:
        return self.earlier + self.this_run


def _errors(summary: Summary) -> str:
    reasons = ", ".join(f"{k}={v}" for k, v in sorted(summary.errors.items()))
    return f"{summary.error_count} errors" + (f" ({reasons})" if reasons else "")


class LineProgress:
    """One line every ``every_s`` seconds and a last one at the end: samples committed in
    all of the total, and (this run's, for a resumed run) rows, errors and files."""

    def __init__(self, stream: TextIO, every_s: float = 5.0) -> None:
        self.stream, self.every_s = stream, every_s
        self.counts = Counts()
        self.summary: Summary | None = None

    def start(self, total: int | None, done: int) -> None:
        self.counts.start(total, done)
        self.begun = self.last = time.monotonic()

    def update(self, summary: Summary, samples: int) -> None:
        self.counts.add(samples)
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
        c = self.counts
        now = self.last = time.monotonic()
        rate = c.this_run / max(now - self.begun, 1e-9)
        of = f" of {c.total}" if c.total is not None else ""
        run = f"{s.rows} rows, {_errors(s)}, {s.units} files"
        # resumed: the counts beside the samples in all are this run's
        run = f" ({c.this_run} this run: {run})" if c.earlier else f", {run}"
        print(
            f"[vidray] {c.done}{of} samples{run}, {rate:.1f} samples/s",
            file=self.stream,
            flush=True,
        )


class BarProgress:
    """A tqdm bar: samples committed in all of the total (or an open count), a resumed
    run's from those committed earlier with its own beside them, rate, ETA, errors by
    reason and shards finished."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar = None
        self.counts = Counts()

    def start(self, total: int | None, done: int) -> None:
        from tqdm import tqdm

        self.counts.start(total, done)

        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError):
            width = 0
        self.bar = tqdm(
            total=total,
            initial=done,  # the bar counts samples committed in all
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
        self.counts.add(samples)
        c = self.counts
        share = f"{c.this_run} this run, " if c.earlier else ""
        self.bar.set_postfix_str(
            f"{share}{_errors(summary)}, shards {summary.shards_done}/{summary.shards}",
            refresh=False,
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
