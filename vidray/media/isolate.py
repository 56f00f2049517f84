"""Decode in a child process, so a sample that crashes or hangs FFmpeg costs that
sample only.

FFmpeg can kill its process (SIGSEGV on some truncated streams) or block, and no
``try`` helps there. Each decode worker process keeps one child Python process running
``python -m vidray.media.isolate`` and hands it samples over a pipe. A child that dies
(``decode_crash``) or outlives the per-sample time limit (``timeout``) is replaced and
the sample is tried again, up to ``attempts`` times; then the sample becomes an error
row and the rest of the unit goes on.

Frames: 8-byte big-endian length, then a pickle. Requests are ``(op, data, kwargs)``
for ``decode.sample_clips`` (op ``clips``), ``images.sample_frames`` (``images``: frame
folders) or ``images.encode_images`` (``stills``: image datasets);
answers are ``("ok", result)``, ``("fail", (reason, message))`` or ``("restart",
result)``: the child's GPU hit a sticky CUDA error (``decode.gpu_lost``; its CPU
redid that video), it exits, and a fresh child takes the next request with a working
CUDA context. The time limit of a request is the per-sample limit times the clips it
asks for: one pass over a video serves all its clips. A request that may decode on
the GPU and runs past it is asked again on the CPU (``nvdec_failed:timeout``): an
NVDEC hang costs that video its GPU, not its frames.
"""

from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
import time
from dataclasses import replace
from typing import IO, Any

from vidray.io import storage
from vidray.media import decode, images
from vidray.media.decode import DecodeFailure
from vidray.schema import Reason

#: Bytes the child's heap keeps free at its top (glibc's ``MALLOC_TOP_PAD_``; its
#: default is 128 KiB). Decoding allocates and frees buffers of hundreds of KiB for
#: every video and frame (the codec's frame pool, scaled RGB, JPEGs, the pickled
#: video); with glibc's defaults the heap gives freed memory at its top back to the
#: kernel, and the next allocation faults it in again: about 200 minor page faults per
#: decoded frame on all-intra content, none with this pad, and 1.1-1.2x less CPU in
#: the child (``benchmarks/bench_child_heap.py``). Other C libraries ignore it.
HEAP_TOP_PAD = 64 << 20


def _send(stream: IO[bytes], obj: Any) -> None:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(body).to_bytes(8, "big") + body)
    stream.flush()


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _recv(fd: int, deadline: float | None = None) -> Any:
    size = int.from_bytes(_read_exactly(fd, 8, deadline), "big")
    return pickle.loads(_read_exactly(fd, size, deadline))


class IsolatedDecoder:
    """``decode.sample_clips`` in a replaceable child process, with a time limit per
    clip."""

    def __init__(
        self,
        *,
        timeout_s: float = 300.0,
        attempts: int = 2,
        module: str = "vidray.media.isolate",
        heap_top_pad: int | None = HEAP_TOP_PAD,
    ) -> None:
        """``heap_top_pad``: the child's ``MALLOC_TOP_PAD_`` where the environment sets
        none; None leaves glibc's own behaviour."""
        if timeout_s <= 0 or attempts < 1:
            raise ValueError(f"bad limits: timeout_s={timeout_s}, attempts={attempts}")
        self.timeout_s, self.attempts, self.module = timeout_s, attempts, module
        self.heap_top_pad = heap_top_pad
        self._child: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the child now (it imports its modules while the caller goes on);
        otherwise the first request starts it."""
        self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._child.poll() is not None:
            # The child imports what this process imports (a Ray working_dir included).
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            if self.heap_top_pad is not None:
                env.setdefault("MALLOC_TOP_PAD_", str(self.heap_top_pad))
            self._child = subprocess.Popen(
                [sys.executable, "-m", self.module],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        return self._child

    def _kill(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            self._child = None

    def sample_clips(
        self, data: bytes | storage.FileRef, *, clips: list[decode.Clip], **kwargs: Any
    ) -> decode.VideoFrames:
        """``decode.sample_clips`` in the child."""
        limit = self.timeout_s * max(1, len(clips))
        return self._call("clips", data, {**kwargs, "clips": clips}, limit)

    def sample_images(self, images: list[bytes], **kwargs: Any) -> Any:
        """``images.sample_frames`` (a frame folder) in the child (JPEG decoding is no
        safer than video)."""
        return self._call("images", images, kwargs, self.timeout_s)

    def encode_images(self, stills: list[bytes], **kwargs: Any) -> images.Stills:
        """``images.encode_images`` (an image dataset's sample) in the child."""
        return self._call("stills", stills, kwargs, self.timeout_s)

    def _call(self, op: str, data: Any, kwargs: dict[str, Any], limit: float) -> Any:
        failure = (Reason.DECODE_CRASH, "")
        gpu_timed_out = False
        attempt = 0
        while attempt < self.attempts:
            attempt += 1
            child = self._start()
            assert child.stdin is not None and child.stdout is not None
            try:
                _send(child.stdin, (op, data, kwargs))
                status, payload = _recv(child.stdout.fileno(), time.monotonic() + limit)
            except TimeoutError:
                self._kill()
                failure = (Reason.TIMEOUT, f"no answer within {limit:g} s")
                if _may_use_gpu(op, kwargs):
                    # An NVDEC hang: this video on the CPU, without costing an attempt.
                    kwargs = {**kwargs, "decoder": "cpu"}
                    gpu_timed_out = True
                    attempt -= 1
                continue
            except (EOFError, BrokenPipeError):
                code = child.wait()
                self._child = None
                failure = (Reason.DECODE_CRASH, f"the decoder process died (exit status {code})")
                continue
            if status == "restart":  # its CUDA context is lost: a fresh child next time
                self._kill()
                status = "ok"
            if status == "ok":
                if gpu_timed_out and isinstance(payload, decode.VideoFrames):
                    payload = replace(payload, route="nvdec_failed:timeout")
                return payload
            raise DecodeFailure(*payload)
        reason, message = failure
        raise DecodeFailure(reason, f"{message}; gave up after {self.attempts} attempt(s)")

    def close(self) -> None:
        if self._child is not None and self._child.stdin is not None:
            self._child.stdin.close()
        self._kill()

    def __del__(self) -> None:
        self.close()


def _may_use_gpu(op: str, kwargs: dict[str, Any]) -> bool:
    return op == "clips" and bool(kwargs.get("gpu")) and kwargs.get("decoder", "cpu") != "cpu"


def serve(handle: Any = None) -> None:
    """The child's loop: decode requests until stdin closes. ``handle`` replaces
    ``decode.sample_clips`` (the tests' faulty children do)."""
    handlers = {
        "clips": handle or decode.sample_clips,
        "images": images.sample_frames,
        "stills": images.encode_images,
    }
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answer stream
    while True:
        try:
            op, data, kwargs = _recv(inp.fileno())
        except EOFError:
            return
        try:
            result = handlers[op](data, **kwargs)
            if decode.gpu_lost:  # answered by the CPU; this process's GPU is gone
                _send(out, ("restart", result))
                return
            _send(out, ("ok", result))
        except DecodeFailure as e:
            _send(out, ("fail", (e.reason, e.message)))
        except Exception as e:  # a bug or an unexpected library error: still one sample
            _send(out, ("fail", (Reason.DECODE_ERROR, f"{type(e).__name__}: {e}")))


if __name__ == "__main__":
    serve()
