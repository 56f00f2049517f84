"""One decode worker on one long 1080p video: peak memory, bytes read, seconds per sample.

A 10-minute 1920x1080 H.264 file (25 fps, a key frame every 2 s, about 8 Mbit/s) is
generated once and cached. Around it, InternVid-layout inputs (three captioned spans
of the one video, and one span over the whole of it) are converted by the real CLI,
``python -m vidray convert internvid IN OUT --num-workers 1``, in a subprocess. A monitor
thread polls ``/proc`` every 50 ms for the decode worker (the Ray worker process that
is the parent of a decoder process, ``python -m vidray.media.isolate``) and its
children, and records:

- peak RSS of the actor plus its children, summed at the same instant;
- what the decoder process read (``rchar``, its last value before it exits; pipe
  reads count too, and are small), as a multiple of the video's size; from S3, the
  bytes the server sent for the video object (GET response bodies counted by a proxy
  in front of a local moto server);
- seconds per sample: the CLI's wall time, the run's own time from its summary line
  (without Ray's start-up), and the decoder process's CPU time.

A plain PyAV loop on the same file and targets (per span: open, seek back to the key
frame before the span, decode forward, keep the frame shown at each target, swscale to
336 px short side, JPEG q90 with Pillow) runs in a fresh process for comparison.

Only the CLI, the output's documented Parquet columns and ``vidray.media.sampling``
(the targets rule) are used, so the script outlives refactors of the pipeline.

    uv run python benchmarks/bench_long_video.py [--seconds 600 --width 1920 --height 1080]
        [--cache DIR] [--json FILE] [--strict] [--skip-s3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MIB = 2**20
FPS = 25
GOP = 2 * FPS  # a key frame every 2 s
BITRATE = 8_000_000
VIDEO_ID = "LongVid0001"  # an 11-character YouTube-style id
#: The spans of the 10-minute video, as fractions of its length: (30, 90), (240, 300),
#: (480, 540) s at 600 s.
SPAN_FRACTIONS = [(0.05, 0.15), (0.40, 0.50), (0.80, 0.90)]
FRAMES = 8
RSS_LIMIT_MIB = 1024
SPANS_READ_LIMIT = 0.6
SPARSE_READ_LIMIT = 0.10
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- the video ---------------------------------------------------------------------------


def write_video(path: Path, seconds: int, width: int, height: int) -> None:
    """Moving sinusoidal gradients plus grain, H.264 at ~8 Mbit/s, 2 s GOPs, no scenecut.

    Frames are built in yuv420p directly (no colour conversion per frame): the luma and
    chroma planes are windows panning over periodic textures, plus one of eight noise
    fields, so every frame costs the encoder real bits."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    period = 512
    yy, xx = np.mgrid[0 : height + period, 0 : width + period].astype(np.float32)
    luma = 128 + 45 * np.sin(2 * np.pi * xx / period) + 35 * np.sin(4 * np.pi * yy / period)
    luma = luma.clip(16, 220).astype(np.uint8)
    h2, w2, cp = height // 2, width // 2, period // 2
    cy, cx = np.mgrid[0 : h2 + cp, 0 : w2 + cp].astype(np.float32)
    chroma = (128 + 40 * np.sin(2 * np.pi * (cx + cy) / cp)).clip(16, 220).astype(np.uint8)
    noise = rng.integers(0, 12, (8, height * 3 // 2, width), dtype=np.uint8)
    frame = np.empty((height * 3 // 2, width), np.uint8)
    u_plane = frame[height:].reshape(-1)[: h2 * w2].reshape(h2, w2)
    v_plane = frame[height:].reshape(-1)[h2 * w2 :].reshape(h2, w2)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = BITRATE
        stream.options = {
            "preset": "ultrafast",
            "g": str(GOP),
            "keyint_min": str(GOP),
            "sc_threshold": "0",  # scenecut off: key frames exactly every GOP frames
            "maxrate": str(BITRATE * 5 // 4),
            "bufsize": str(BITRATE * 2),
            "threads": "1",
        }
        for i in range(seconds * FPS):
            ox, oy = (i * 6) % period, (i * 3) % period
            frame[:height] = luma[oy : oy + height, ox : ox + width]
            cx0, cy0 = (i * 2) % cp, i % cp
            u_plane[:] = chroma[cy0 : cy0 + h2, cx0 : cx0 + w2]
            v_plane[:] = chroma[cx0 : cx0 + h2, cy0 : cy0 + w2]
            frame += noise[i % len(noise)]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def cached_video(cache: Path, seconds: int, width: int, height: int) -> tuple[Path, float]:
    """The video for these dimensions, generated on first use; (path, generation s)."""
    path = cache / f"long-{seconds}s-{width}x{height}-gop{GOP}-v1.mp4"
    if path.exists():
        return path, 0.0
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}.mp4")
    t0 = time.monotonic()
    try:
        write_video(tmp, seconds, width, height)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, time.monotonic() - t0


def probe(path: Path) -> dict[str, Any]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        duration = float(s.duration * s.time_base)
        keys = [
            float(p.pts * s.time_base) for p in c.demux(s) if p.is_keyframe and p.pts is not None
        ]
    gaps = {round(b - a, 3) for a, b in itertools.pairwise(keys)}
    return {"duration": duration, "keyframes": len(keys), "gop_s": sorted(gaps)}


# -- inputs ------------------------------------------------------------------------------


def internvid_line(start: float, end: float, caption: str) -> dict[str, Any]:
    return {
        "YoutubeID": VIDEO_ID,
        "Start_timestamp": f"{start:.3f}",
        "End_timestamp": f"{end:.3f}",
        "Caption": caption,
        "Aesthetic_Score": 4.5,
        "UMT_Score": 0.4,
    }


def write_internvid(root: Path, spans: list[tuple[float, float]], video: Path | None) -> None:
    """INPUT/InternVid-10M-flt.jsonl (one line per span, consecutive) and, with ``video``,
    INPUT/videos/<YoutubeID>.mp4 (a hard link to the cached file where possible)."""
    root.mkdir(parents=True)
    lines = [internvid_line(s, e, f"caption of span {k}") for k, (s, e) in enumerate(spans)]
    (root / "InternVid-10M-flt.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if video is not None:
        (root / "videos").mkdir()
        target = root / "videos" / f"{VIDEO_ID}.mp4"
        try:
            os.link(video, target)
        except OSError:
            shutil.copyfile(video, target)


# -- the monitor -------------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, bytes]]:
    """pid -> (parent pid, command line) of every live process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z":
                continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, IndexError):
            continue
        table[int(entry.name)] = (int(fields[1]), cmdline)
    return table


def _descendants(table: dict[int, tuple[int, bytes]], root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def _rss(pid: int) -> Counter[str]:
    """Resident bytes of ``pid`` by kind: anon (heap, private), file (mapped files:
    libraries), shmem (shared memory: Ray's object store pages this process touched)."""
    parts: Counter[str] = Counter()
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith((b"RssAnon:", b"RssFile:", b"RssShmem:")):
                name, kb = line.split()[:2]
                parts[name[3:-1].decode().lower()] = int(kb) * 1024
    return parts


def _io_cpu(pid: int) -> tuple[int, float]:
    """(rchar, CPU seconds) of ``pid``."""
    with open(f"/proc/{pid}/io", "rb") as f:
        io_stats = dict(line.split(b":") for line in f.read().splitlines())
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(io_stats[b"rchar"]), (int(fields[11]) + int(fields[12])) / ticks


class Monitor(threading.Thread):
    """Polls the process tree under ``root`` (the CLI, a child subreaper of its Ray
    instance) for decode actors and their children."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.stop = threading.Event()
        self.peak_total = 0  # actors + their children, at one instant
        self.peak_actor = 0
        self.peak_decoder = 0
        self.at_peak: dict[str, dict[str, int]] = {}  # RSS by kind at the peak
        self.decoders: dict[int, dict[str, Any]] = {}  # pid -> last rchar / cpu seen
        self.actors: set[int] = set()
        self.polls = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            self.stop.wait(self.interval)
        self.poll()

    def poll(self) -> None:
        table = _proc_table()
        self.polls += 1
        actor: Counter[str] = Counter()
        children: Counter[str] = Counter()
        decoding = {table[p][0] for p in table if b"vidray.media.isolate" in table[p][1]}
        for pid in _descendants(table, self.root):
            if pid not in decoding:  # a decode worker: the parent of a decoder process
                continue
            self.actors.add(pid)
            with contextlib.suppress(OSError):
                actor.update(_rss(pid))
            for child in _descendants(table, pid):
                try:
                    children.update(_rss(child))
                except OSError:
                    continue
                if b"vidray.media.isolate" in table[child][1]:
                    with contextlib.suppress(OSError, KeyError, ValueError):
                        rchar, cpu = _io_cpu(child)
                        seen = self.decoders.setdefault(child, {"first": time.monotonic()})
                        seen.update(rchar=rchar, cpu=cpu, last=time.monotonic())
        total = actor.total() + children.total()
        if total > self.peak_total:
            self.peak_total = total
            self.at_peak = {"actor": dict(actor), "children": dict(children)}
        self.peak_actor = max(self.peak_actor, actor.total())
        self.peak_decoder = max(self.peak_decoder, children.total())

    def figures(self) -> dict[str, Any]:
        return {
            "peak_rss_mib": self.peak_total / MIB,
            "peak_actor_mib": self.peak_actor / MIB,
            "peak_children_mib": self.peak_decoder / MIB,
            "at_peak_mib": {
                who: {kind: round(n / MIB) for kind, n in parts.items()}
                for who, parts in self.at_peak.items()
            },
            "decoder_rchar": sum(d.get("rchar", 0) for d in self.decoders.values()),
            "decoder_cpu_s": sum(d.get("cpu", 0.0) for d in self.decoders.values()),
            "decoders": len(self.decoders),
            "actors": len(self.actors),
            "polls": self.polls,
        }


# -- running the CLI ---------------------------------------------------------------------

SUMMARY = re.compile(
    r"(?P<samples>\d+) samples -> (?P<rows>\d+) rows, (?P<frames>\d+) frames, "
    r"(?P<errors>\d+) errors.* in (?P<run_s>[\d.]+) s"
)


def convert(args: list[str], out: Path, env: dict[str, str]) -> dict[str, Any]:
    """``python -m vidray convert ARGS OUT --num-workers 1 --quiet`` under the monitor."""
    cmd = [sys.executable, "-m", "vidray", "convert", *args, str(out)]
    cmd += ["--num-workers", "1", "--quiet"]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        start_new_session=True,
    )
    monitor = Monitor(proc.pid)
    monitor.start()
    stdout, stderr = proc.communicate()
    wall = time.monotonic() - t0
    monitor.stop.set()
    monitor.join()
    if proc.returncode != 0:
        raise SystemExit(f"vidray convert failed ({proc.returncode}):\n{stdout}\n{stderr}")
    result: dict[str, Any] = {"wall_s": wall, "summary": stdout.strip().splitlines()[-1]}
    m = SUMMARY.search(result["summary"])
    if m:
        result.update({k: float(v) if k == "run_s" else int(v) for k, v in m.groupdict().items()})
    result.update(monitor.figures())
    if not result["actors"]:
        print(f"warning: no decode worker seen under pid {proc.pid}", file=sys.stderr)
    result.update(read_output(out))
    return result


def read_output(out: Path) -> dict[str, Any]:
    """Rows, frame times and size of OUTPUT/data/*.parquet, the errors' reasons."""
    import pyarrow.parquet as pq

    data = sorted((out / "data").glob("*.parquet"))
    times: dict[str, list[float]] = {}
    for f in data:
        t = pq.read_table(f, columns=["clip_start", "frame_timestamps"])
        for start, ts in zip(
            t.column("clip_start").to_pylist(),
            t.column("frame_timestamps").to_pylist(),
            strict=True,
        ):
            times[f"{start:.3f}"] = ts
    reasons: Counter[str] = Counter()
    for f in sorted((out / "__errors").glob("*.parquet")):  # vout.ERRORS_DIR
        reasons.update(pq.read_table(f, columns=["reason"]).column("reason").to_pylist())
    return {
        "output_mib": sum(f.stat().st_size for f in data) / MIB,
        "frame_times": times,
        "error_reasons": dict(reasons),
    }


# -- S3: moto in server mode behind a counting proxy -------------------------------------

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class CountingProxy:
    """HTTP proxy in front of the local S3 server that counts, per path, the requests
    and the response body bytes it sends (streamed through, never held whole)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent: Counter[tuple[str, str]] = Counter()  # (method, path) -> body bytes
        self.requests: Counter[tuple[str, str]] = Counter()
        self.gets: list[tuple[str, str, int]] = []  # (path, Range header, body bytes)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                out = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP}
                key = (self.command, self.path.split("?")[0])
                data = None
                if self.command != "HEAD" and resp.getheader("Content-Length") is None:
                    data = resp.read()  # chunked upstream: small (listings, errors)
                    out["Content-Length"] = str(len(data))
                self.send_response(resp.status)
                for k, v in out.items():
                    self.send_header(k, v)
                self.end_headers()
                sent = 0
                try:
                    if self.command == "HEAD":
                        pass
                    elif data is not None:
                        self.wfile.write(data)
                        sent = len(data)
                    else:
                        while chunk := resp.read(1 << 20):
                            self.wfile.write(chunk)
                            sent += len(chunk)
                finally:
                    conn.close()
                    with proxy._lock:
                        proxy.sent[key] += sent
                        proxy.requests[key] += 1
                        if self.command == "GET":
                            proxy.gets.append((key[1], self.headers.get("Range", ""), sent))

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.requests.clear()
            self.gets.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_s3() -> Iterator[tuple[CountingProxy, str]]:
    """moto's S3 server on 127.0.0.1 behind the counting proxy; (proxy, moto's URL).
    Fake credentials for it only, in this process's environment (never printed)."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)
    os.environ["AWS_ACCESS_KEY_ID"] = "vidray-bench-key"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "vidray-bench-not-a-secret"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = None
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("moto_server did not start")
            time.sleep(0.1)
        proxy = CountingProxy(port)
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{proxy.port}"
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        if proxy is not None:
            proxy.stop()
        proc.terminate()
        proc.wait(10)


def upload(moto_url: str, bucket: str, local: Path, prefix: str) -> None:
    """``local``'s files to s3://bucket/prefix/, straight to moto (not counted)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_url)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")


# -- the plain PyAV loop -----------------------------------------------------------------


def plain_loop(path: Path, spans: list[tuple[float, float]], frames: int) -> dict[str, Any]:
    """In a fresh process: per span, open, seek back to the key frame before the span's
    start, decode forward keeping the frame shown at each target, scale, JPEG."""
    import io

    import av
    from PIL import Image

    from vidray.media.sampling import scaled_size, uniform_targets

    def rchar() -> int:
        stats = Path("/proc/self/io").read_text().split()
        return int(stats[stats.index("rchar:") + 1])

    read0, t0 = rchar(), time.monotonic()
    times, jpeg_bytes = {}, 0
    for start, end in spans:
        targets = uniform_targets(start, end, frames)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1  # as vidray's decoder: one thread
            tb, first = stream.time_base, stream.start_time or 0
            container.seek(int(first + start / tb), stream=stream, backward=True)
            chosen: list[tuple[float, Any]] = []
            prev, i = None, 0
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float((frame.pts - first) * tb)
                while i < len(targets) and t > targets[i]:
                    pick = prev if prev is not None else (t, frame)
                    if not chosen or chosen[-1][0] != pick[0]:
                        chosen.append(pick)
                    i += 1
                if i == len(targets):
                    break
                prev = (t, frame)
            if i < len(targets) and prev is not None and (not chosen or chosen[-1][0] != prev[0]):
                chosen.append(prev)  # the end of the stream: the last frame stays shown
            size = scaled_size(stream.codec_context.width, stream.codec_context.height, 336)
            for _, frame in chosen:
                rgb = frame.reformat(
                    width=size[0], height=size[1], format="rgb24", interpolation="AREA"
                )
                buf = io.BytesIO()
                Image.fromarray(rgb.to_ndarray()).save(buf, format="JPEG", quality=90)
                jpeg_bytes += buf.tell()
            times[f"{start:.3f}"] = [round(t, 6) for t, _ in chosen]
    return {
        "seconds": time.monotonic() - t0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rchar": rchar() - read0,
        "frame_times": times,
        "jpeg_bytes": jpeg_bytes,
    }


# -- the report --------------------------------------------------------------------------


def verdict(value: float, limit: float) -> str:
    return "PASS" if value <= limit else "FAIL"


def table(cases: list[dict[str, Any]]) -> str:
    head = (
        f"{'case':34s} {'peak worker RSS MiB':>21s}  {'read / file size':>21s}  "
        f"{'s/sample wall | run | decode':>28s}  notes"
    )
    lines = [head, "-" * len(head)]
    for c in cases:
        rss = f"{c['peak_rss_mib']:6.0f}"
        rss += (
            f" <= {c['rss_limit']} {verdict(c['peak_rss_mib'], c['rss_limit'])}"
            if c.get("rss_limit")
            else " " * 13
        )
        read = f"{c['read_ratio']:5.2f}x"
        if c.get("read_limit") is not None:
            read += f" <= {c['read_limit']:.2f} {verdict(c['read_ratio'], c['read_limit'])}"
        else:
            read += " " * 13
        run = f"{c['run_s_per_sample']:6.1f}" if c.get("run_s_per_sample") is not None else "     -"
        dec = f"{c['decode_s_per_sample']:6.1f}" if c.get("decode_s_per_sample") else "     -"
        secs = f"{c['wall_s_per_sample']:6.1f} |{run} |{dec}"
        lines.append(f"{c['case']:34s} {rss:>21s}  {read:>21s}  {secs:>28s}  {c.get('notes', '')}")
    return "\n".join(lines)


def case_figures(
    name: str, r: dict[str, Any], size: int, read_bytes: int, read_limit: float | None
) -> dict[str, Any]:
    n = r.get("samples") or 1
    return {
        "case": name,
        "peak_rss_mib": r["peak_rss_mib"],
        "peak_actor_mib": r["peak_actor_mib"],
        "peak_children_mib": r["peak_children_mib"],
        "at_peak_mib": r["at_peak_mib"],
        "rss_limit": RSS_LIMIT_MIB,
        "read_bytes": read_bytes,
        "read_ratio": read_bytes / size,
        "read_limit": read_limit,
        "decoder_rchar": r["decoder_rchar"],
        "wall_s": r["wall_s"],
        "run_s": r.get("run_s"),
        "samples": r.get("samples"),
        "frames": r.get("frames"),
        "errors": r.get("errors"),
        "error_reasons": r["error_reasons"],
        "wall_s_per_sample": r["wall_s"] / n,
        "run_s_per_sample": r["run_s"] / n if r.get("run_s") is not None else None,
        "decode_s_per_sample": r["decoder_cpu_s"] / n,
        "output_mib": r["output_mib"],
        "summary": r["summary"],
        "notes": "",
    }


def s3_cases(
    root: Path, video: Path, size: int, inputs: dict[str, list[tuple[float, float]]], env: dict
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The uniform cases again with INPUT and the video on the local S3 server; what the
    server sent for the video object is the bytes read."""
    import boto3

    cases, raw = [], {}
    with local_s3() as (proxy, moto_url):
        bucket = "vidray-bench-long"
        boto3.client("s3", endpoint_url=moto_url).create_bucket(Bucket=bucket)
        t0 = time.monotonic()
        for name, spans in inputs.items():
            write_internvid(root / f"s3-{name}", spans, None)
            upload(moto_url, bucket, root / f"s3-{name}", name)
        staged = root / "s3-videos"
        staged.mkdir()
        os.link(video, staged / f"{VIDEO_ID}.mp4")
        upload(moto_url, bucket, staged, "videos")
        print(f"uploaded to the local S3 server in {time.monotonic() - t0:.0f} s")
        key = ("GET", f"/{bucket}/videos/{VIDEO_ID}.mp4")
        env = {**env, **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
        for name, label, limit in (
            ("spans", f"3 spans x {FRAMES} frames (S3)", SPANS_READ_LIMIT),
            ("sparse", f"sparse 1 x {FRAMES} frames (S3)", SPARSE_READ_LIMIT),
        ):
            proxy.reset()
            cmd = ["internvid", f"s3://{bucket}/{name}", "--num-frames", str(FRAMES)]
            cmd += ["--videos", f"s3://{bucket}/videos"]
            r = raw[f"s3-{name}"] = convert(cmd, root / f"out-s3-{name}", env)
            r["s3_bytes"], r["s3_gets"] = proxy.sent[key], proxy.requests[key]
            r["s3_ranges"] = [(rng, n) for path, rng, n in proxy.gets if path == key[1]]
            case = case_figures(label, r, size, r["s3_bytes"], limit)
            case["s3_ranges"] = r["s3_ranges"]
            largest = max((n for _, n in r["s3_ranges"]), default=0) / MIB
            rchar = r["decoder_rchar"] / size
            case["notes"] = (
                f"{r['s3_gets']} GETs of the video, up to {largest:.1f} MiB each; "
                f"decoder rchar {rchar:.2f}x"
            )
            cases.append(case)
    return cases, raw


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=600, help="video length (default: 600)")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path("/tmp/vidray-bench-long"),
        help="where the generated video is kept between runs (default: /tmp/vidray-bench-long)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a limit fails")
    ap.add_argument("--skip-s3", action="store_true", help="leave out the S3 cases")
    ap.add_argument("--keep", type=Path, default=None, help="work here and keep the outputs")
    ap.add_argument("--plain", nargs=2, metavar=("FILE", "SPANS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain:
        spans = [tuple(s) for s in json.loads(args.plain[1])]
        print(json.dumps(plain_loop(Path(args.plain[0]), spans, FRAMES)))
        return 0

    t_start = time.monotonic()
    video, gen_s = cached_video(args.cache, args.seconds, args.width, args.height)
    size = video.stat().st_size
    info = probe(video)
    duration = info["duration"]
    spans = [(round(a * args.seconds, 3), round(b * args.seconds, 3)) for a, b in SPAN_FRACTIONS]
    inputs = {"spans": spans, "sparse": [(0.0, int(duration * 1000) / 1000)]}
    how = f"generated in {gen_s:.0f} s" if gen_s else f"cached in {args.cache}"
    print(
        f"video: {args.seconds} s {args.width}x{args.height} H.264 {FPS} fps, key frames every "
        f"{'/'.join(map(str, info['gop_s']))} s ({info['keyframes']}), {size / MIB:.0f} MiB, "
        f"{size * 8 / duration / 1e6:.1f} Mbit/s ({how})"
    )
    print(f"spans: {spans}, {FRAMES} frames each; sparse: {inputs['sparse']}", flush=True)

    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="vidray-bench-long-")
    root = args.keep if tmp is None else Path(tmp.name)
    if args.keep and root.exists():
        shutil.rmtree(root)
    for name, s in inputs.items():
        write_internvid(root / f"in-{name}", s, video)

    cases, raw = [], {}
    uniform = ["--num-frames", str(FRAMES)]
    for name, label, extra, limit in (
        ("spans", f"3 spans x {FRAMES} frames (local)", uniform, SPANS_READ_LIMIT),
        ("sparse", f"sparse 1 x {FRAMES} frames (local)", uniform, SPARSE_READ_LIMIT),
        ("dense", "native dense fps 2 (local)", ["--native-size", "--fps", "2"], None),
    ):
        inp = root / ("in-sparse" if name == "sparse" else "in-spans")
        r = raw[name] = convert(["internvid", str(inp), *extra], root / f"out-{name}", env)
        cases.append(case_figures(label, r, size, r["decoder_rchar"], limit))
    cases[-1]["notes"] = f"{raw['dense'].get('frames')} frames, output "
    cases[-1]["notes"] += f"{raw['dense']['output_mib']:.0f} MiB"

    if not args.skip_s3:
        more, more_raw = s3_cases(root, video, size, inputs, env)
        cases += more
        raw.update(more_raw)

    cmd = [sys.executable, __file__, "--plain", str(video), json.dumps(spans)]
    t0 = time.monotonic()
    plain = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    plain_wall = time.monotonic() - t0
    ours = {k: [round(t, 6) for t in v] for k, v in raw["spans"]["frame_times"].items()}
    same = "yes" if plain["frame_times"] == ours else "NO"
    cases.append(
        {
            "case": f"plain PyAV loop, 3 spans x {FRAMES}",
            "peak_rss_mib": plain["peak_rss_mib"],
            "read_bytes": plain["rchar"],
            "read_ratio": plain["rchar"] / size,
            "read_limit": None,
            "wall_s_per_sample": plain_wall / len(spans),
            "run_s_per_sample": plain["seconds"] / len(spans),
            "decode_s_per_sample": None,
            "notes": f"same frames as vidray: {same}",
        }
    )

    print()
    print(table(cases))
    print()
    for name, r in raw.items():
        print(
            f"{name:9s} actor {r['peak_actor_mib']:.0f} MiB, children "
            f"{r['peak_children_mib']:.0f} MiB (each its own peak); {r['decoders']} decoder "
            f"process(es), {r['polls']} polls; {r['summary']}"
        )
        kinds = "; ".join(
            f"{who} " + ", ".join(f"{kind} {mib}" for kind, mib in sorted(parts.items()))
            for who, parts in r["at_peak_mib"].items()
        )
        print(f"{'':9s} at the peak, MiB: {kinds}")
        if r.get("s3_ranges"):
            print(f"{'':9s} GETs of the video, MiB offset+length: {describe_gets(r['s3_ranges'])}")
    failed = [c["case"] for c in cases if verdict_failed(c)]
    print(
        f"\nlimits: peak RSS <= {RSS_LIMIT_MIB} MiB; read <= {SPANS_READ_LIMIT}x the file for "
        f"the 3 spans, <= {SPARSE_READ_LIMIT}x for the sparse sample; no error rows: "
        + ("FAILED: " + ", ".join(failed) if failed else "all pass")
    )
    print(f"total {time.monotonic() - t_start:.0f} s")
    if args.json:
        video_doc = {"path": str(video), "bytes": size, "generate_s": gen_s, **info}
        video_doc.update(seconds=args.seconds, width=args.width, height=args.height)
        doc = {"video": video_doc, "spans": spans, "cases": cases}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    if tmp:
        tmp.cleanup()
    return 1 if args.strict and failed else 0


def describe_gets(gets: list[tuple[str, int]]) -> str:
    """``bytes=A-B`` Range headers with the bytes sent, as ``offset+length`` in MiB."""
    parts = []
    for rng, sent in gets:
        m = re.match(r"bytes=(\d+)-", rng)
        offset = f"{int(m[1]) / MIB:.1f}" if m else "whole"
        parts.append(f"{offset}+{sent / MIB:.1f}")
    return " ".join(parts)


def verdict_failed(c: dict[str, Any]) -> bool:
    rss = c.get("rss_limit") and c["peak_rss_mib"] > c["rss_limit"]
    read = c.get("read_limit") is not None and c["read_ratio"] > c["read_limit"]
    errors = bool(c.get("errors"))
    return bool(rss or read or errors)


if __name__ == "__main__":
    raise SystemExit(main())
