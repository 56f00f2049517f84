"""Listing and lookup at scale: the stem index of a videos root holding 100,000 objects.

Annotation sources whose videos are named without an extension (ActivityNet-QA,
InternVid, ...) find them by one recursive listing of the videos root, made once per
job by the driver (``AnnotationSource.video_index``) and handed to every read task
(``use_video_index``, by reference through Ray's object store). This puts N tiny
objects named like ActivityNet's downloads (``v_<11 chars>.mp4``, spread over a few
prefixes) on a local S3 server (moto in server mode, started here), then, in a fresh
process, times:

- the listing: ``video_index`` of ``activitynet-qa`` with ``--videos s3://.../videos``
  (wall seconds, and the CPU seconds of the listing process: the rest is the server),
  and with ``--bare`` the same listing as bare boto3 ``list_objects_v2`` pages, for the
  server's share (moto scans and sorts the whole bucket for every page of 1000 keys:
  about 1.5 s a page at 100,000 objects, so the listing's wall time is mostly moto's);
- the index's pickled size (what ``ray.put`` stores) and its pickle/unpickle time;
- lookups: every one of the N names, as ActivityNet-QA gives them (without the
  ``v_`` prefix, so each lookup tries the bare name first, then ``v_<name>``), with
  ``find_video`` on a source given the unpickled index by ``use_video_index``.

The upload is setup, timed and printed apart.

    uv run python benchmarks/bench_listing.py [--objects 100000 --prefixes 4 --threads 8]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import pickle
import random
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BUCKET = "vidray-bench-listing"
ID_CHARS = string.ascii_letters + string.digits + "-_"


def video_ids(n: int) -> list[str]:
    """``n`` distinct 11-character YouTube-style ids, the same for every call."""
    rng = random.Random(0)
    ids: dict[str, None] = {}
    while len(ids) < n:
        ids["".join(rng.choices(ID_CHARS, k=11))] = None
    return list(ids)


def video_key(i: int, video_id: str, prefixes: int) -> str:
    """The object key of video ``i``: ``videos/part<k>/v_<id>.mp4``."""
    return f"videos/part{i % prefixes}/v_{video_id}.mp4"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_s3() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, reached through AWS_ENDPOINT_URL with fake
    credentials for it only (set in this process's environment, never printed)."""
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
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("moto_server did not start")
            time.sleep(0.1)
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        yield os.environ["AWS_ENDPOINT_URL"]
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:  # busy in a long request: SIGTERM waits for it
            proc.kill()
            proc.wait()


def put_objects(n: int, prefixes: int, threads: int, endpoint: str) -> float:
    """N tiny objects PUT by a thread pool, one kept-alive connection per thread; seconds.
    Plain unsigned HTTP (moto does not check signatures): boto3 would spend more CPU
    signing than the server spends storing, and this is setup, not the measurement."""
    import boto3

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    host, port = endpoint.removeprefix("http://").split(":")
    local = threading.local()
    ids = video_ids(n)
    body = b"\0" * 16

    def put(i: int) -> None:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        local.conn.request("PUT", f"/{BUCKET}/{video_key(i, ids[i], prefixes)}", body=body)
        resp = local.conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"PUT {i}: HTTP {resp.status}")

    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(put, range(n), chunksize=256):
            pass
    # something next to the videos that is no video: listed, not indexed
    boto3.client("s3").put_object(Bucket=BUCKET, Key="videos/README.txt", Body=b"x")
    return time.monotonic() - t0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(n: int, bare: bool) -> dict[str, Any]:
    """In a fresh process: the index as the driver builds it, then every lookup."""
    from vidray import sources
    from vidray.io import storage
    from vidray.sources import SourceContext

    def source(videos: str) -> Any:
        return sources.get("activitynet-qa", SourceContext.of(videos=f"s3://{BUCKET}/{videos}"))

    inp = storage.location(f"s3://{BUCKET}/input")
    # Warm-up on an empty prefix: imports, the S3 client and its credentials.
    source("nothing-here").video_index(inp)

    src = source("videos")
    w0, c0 = time.perf_counter(), time.process_time()
    index = src.video_index(inp)
    list_s, list_cpu = time.perf_counter() - w0, time.process_time() - c0
    assert index is not None

    log(f"video_index: {len(index)} stems in {list_s:.1f} s ({list_cpu:.1f} s CPU)")
    raw = raw_s = raw_cpu = None
    if bare:
        # The server's share: the same listing as bare boto3 pages, nothing else done.
        import boto3

        pages = boto3.client("s3").get_paginator("list_objects_v2")
        w0, c0 = time.perf_counter(), time.process_time()
        listed = pages.paginate(Bucket=BUCKET, Prefix="videos/")
        raw = sum(len(p.get("Contents", ())) for p in listed)
        raw_s, raw_cpu = time.perf_counter() - w0, time.process_time() - c0
        log(f"bare boto3 listing: {raw} keys in {raw_s:.1f} s")

    t0 = time.perf_counter()
    blob = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    dump_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    handed = pickle.loads(blob)
    load_s = time.perf_counter() - t0

    reader = source("videos")
    reader.use_video_index(handed)
    names = [(vid, f"v_{vid}") for vid in video_ids(n)]  # as ActivityNet-QA names them
    found = 0
    t0 = time.perf_counter()
    for tried in names:
        if reader.find_video(inp, tried) is not None:
            found += 1
    lookup_s = time.perf_counter() - t0
    return {
        "indexed": len(index),
        "list_s": list_s,
        "list_cpu_s": list_cpu,
        "raw_listed": raw,
        "raw_list_s": raw_s,
        "raw_list_cpu_s": raw_cpu,
        "pickled_bytes": len(blob),
        "pickle_s": dump_s,
        "unpickle_s": load_s,
        "lookups": len(names),
        "found": found,
        "lookup_s": lookup_s,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=100_000, help="videos (default: 100000)")
    ap.add_argument("--prefixes", type=int, default=4, help="folders they are spread over")
    ap.add_argument("--threads", type=int, default=8, help="upload threads (default: 8)")
    ap.add_argument("--repeat", type=int, default=1, help="measurements, each a fresh process")
    ap.add_argument(
        "--bare",
        action="store_true",
        help="also time the same listing as bare boto3 pages (the server's share; as long "
        "again as the listing on moto)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    ap.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.bare)))
        return 0

    t_start = time.monotonic()
    with local_s3() as endpoint:
        put_s = put_objects(args.objects, args.prefixes, args.threads, endpoint)
        print(
            f"setup: {args.objects} objects under s3://{BUCKET}/videos/part0..{args.prefixes - 1}"
            f"/v_<11 chars>.mp4 PUT in {put_s:.0f} s ({args.objects / put_s:.0f}/s, "
            f"{args.threads} threads)",
            flush=True,
        )
        runs = []
        for _ in range(args.repeat):
            cmd = [sys.executable, __file__, "--measure", str(args.objects)]
            cmd += ["--bare"] if args.bare else []
            # stderr passes through: a failure's traceback shows where it happened
            done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            if done.returncode != 0:
                print(f"measurement failed (exit {done.returncode})", file=sys.stderr)
                return 1
            runs.append(json.loads(done.stdout))
    for r in runs:
        ok = "all found" if r["found"] == r["lookups"] == r["indexed"] else "MISSING SOME"
        print(
            f"listing (video_index): {r['list_s']:.2f} s wall, {r['list_cpu_s']:.2f} s CPU "
            f"in the listing process; {r['indexed']} stems, "
            f"{r['indexed'] / r['list_s']:.0f} objects/s"
        )
        if r["raw_list_s"] is not None:
            print(
                f"  the same listing as bare boto3 pages: {r['raw_list_s']:.2f} s wall, "
                f"{r['raw_list_cpu_s']:.2f} s CPU ({r['raw_listed']} keys): the server's share"
            )
        print(
            f"index pickled: {r['pickled_bytes'] / 2**20:.2f} MiB "
            f"({r['pickled_bytes'] / r['indexed']:.0f} B/video), pickle {r['pickle_s'] * 1e3:.0f}"
            f" ms, unpickle {r['unpickle_s'] * 1e3:.0f} ms"
        )
        print(
            f"lookups (find_video after use_video_index): {r['lookups']} in "
            f"{r['lookup_s']:.2f} s = {r['lookups'] / r['lookup_s']:,.0f}/s "
            f"({r['lookup_s'] / r['lookups'] * 1e6:.1f} us each, 2 names tried); {ok}"
        )
    print(f"total {time.monotonic() - t_start:.0f} s")
    if args.json:
        doc = {"objects": args.objects, "prefixes": args.prefixes, "put_s": put_s, "runs": runs}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if all(r["found"] == r["lookups"] for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
