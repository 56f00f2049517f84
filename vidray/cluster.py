"""The command line's Ray: join a cluster or start a local instance, and on the way
out (done, failed or interrupted) leave nothing running that this process started.

A local instance is a tree of processes (GCS, raylet, agents, workers) under this
one; some of them outlive their parent when it is interrupted. Before starting one,
this process becomes a child subreaper (Linux), so every process of the instance
stays its descendant even when its own parent dies, and ``stop`` can find and stop
them all. A cluster given by address is never stopped: disconnecting releases the
job's tasks.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

#: prctl(2) option: orphaned descendants are re-parented to this process.
_PR_SET_CHILD_SUBREAPER = 36

_started_local = False


class Unreachable(Exception):
    """The cluster address answers nothing; the message is one line."""


#: Modules Ray's idle worker processes import before they take work, so that a decode
#: convert or read task starts on a worker that has them loaded (``import ray.data`` alone
#: takes seconds per process). A local instance started here sets it; a cluster started
#: with ``ray start`` gets it from ``RAY_preload_python_modules`` (``node_env``).
WORKER_PRELOAD = ("ray.data", "vidray.stage", "vidray.read")

#: How long an idle worker process above a node's CPU count lives (Ray's default is a
#: second). A conversion runs more tasks at once than a node has CPUs (a read task takes
#: a tenth of one), so with Ray's default most tasks would start a fresh process and pay
#: its imports again (on a two-node test cluster, 25 task processes against 4).
IDLE_WORKER_KEEP_MS = 60_000


def node_env() -> dict[str, str]:
    """The settings every node's ``ray start`` wants, as environment variables (the
    configs in ``cluster/`` set them; a local instance started here sets them itself)."""
    return {
        "RAY_preload_python_modules": ",".join(WORKER_PRELOAD),
        "RAY_idle_worker_killing_time_threshold_ms": str(IDLE_WORKER_KEEP_MS),
    }


#: Seconds to wait for a cluster address to accept a connection before refusing.
CONNECT_TIMEOUT_S = 5.0


def connect(address: str | None, *, quiet: bool = False, own_processes: bool = False) -> None:
    """Join ``address`` (else ``RAY_ADDRESS``) or start a local instance; nothing when
    this process is connected already. Raises ``Unreachable`` at once for an address
    nothing listens on (``ray.init`` would retry for minutes).

    ``quiet`` (the CLI without ``--verbose``): worker output stays in Ray's log files
    and only Ray's errors are logged here (otherwise its INFO lines too).
    ``own_processes`` (the CLI only: it changes how this process adopts orphans):
    ``stop`` may stop every process of the local
    instance started here."""
    global _started_local
    import ray

    if ray.is_initialized():
        return
    kwargs = {"logging_level": logging.ERROR if quiet else logging.INFO,
              "log_to_driver": not quiet}  # fmt: skip
    target = address or os.environ.get("RAY_ADDRESS")
    if target:
        check_reachable(target)
        ray.init(address=address, **kwargs)
        return
    _started_local = own_processes and _become_subreaper()
    ray.init(
        # A new instance, even where `ray start` left a cluster on this machine (which
        # ray.init() with no address would join).
        address="local",
        include_dashboard=False,
        _system_config={
            "preload_python_modules": list(WORKER_PRELOAD),
            "idle_worker_killing_time_threshold_ms": IDLE_WORKER_KEEP_MS,
        },
        **kwargs,
    )


def check_reachable(address: str) -> None:
    """A ``host:port`` (or ``ray://host:port``) address must accept a TCP connection."""
    hostport = address.removeprefix("ray://").rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local", ...: Ray resolves those itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise Unreachable(
            f"cannot reach the Ray cluster at {address}: {e.strerror or e} "
            "(check --ray-address / RAY_ADDRESS: the head's GCS address, host:6379 by default)"
        ) from None


def stop(grace_s: float = 3.0) -> None:
    """Disconnect from Ray; if this process started a local instance, stop every
    process of it: what ``ray.shutdown`` leaves gets SIGTERM, then SIGKILL."""
    if "ray" in sys.modules:
        # Bounded: a half-started instance can make shutdown wait on a dead GCS.
        done = threading.Thread(target=_shutdown, daemon=True)
        done.start()
        done.join(grace_s)
    if _started_local:
        stop_descendants(grace_s)


def _shutdown() -> None:
    import ray

    with contextlib.suppress(Exception):
        ray.shutdown()


def _become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def proc_stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name, which may hold spaces
    and parentheses: state first, then parent pid, ... (``proc(5)`` fields 3 onward:
    minor faults at 7, utime and stime at 11 and 12). Raises ``OSError`` for a process
    that is gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def proc_table() -> dict[int, tuple[int, bytes]]:
    """pid -> (parent pid, command line) of every process, from ``/proc``."""
    table = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int(proc_stat(proc.name)[1])
            table[int(proc.name)] = (parent, (proc / "cmdline").read_bytes())
        except (OSError, ValueError, IndexError):
            continue
    return table


def with_descendants(pids: set[int], table: dict[int, tuple[int, bytes]]) -> set[int]:
    """``pids`` and every process below them in ``table`` (``proc_table``)."""
    found = set(pids)
    while True:
        more = {pid for pid, (parent, _) in table.items() if parent in found} - found
        if not more:
            return found
        found |= more


def descendants(pid: int | None = None) -> list[int]:
    """Every live process below ``pid`` (default: this one), from ``/proc``."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = proc_stat(proc.name)
        except OSError:
            continue
        if fields[0] == "Z":  # exited, waiting to be reaped
            continue
        children.setdefault(int(fields[1]), []).append(int(proc.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def stop_descendants(grace_s: float = 3.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = descendants()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while pids and time.monotonic() < deadline:
            _reap()
            pids = descendants()
            time.sleep(0.05)
        if not pids:
            break
    _reap()


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
