"""Resume time and the driver's peak memory against the number of units: unit layout 3
(every unit's commit record in ``__units/``, all read and held at resume, and a
``_SUCCESS`` that lists every file) against layout 4 (a manifest per finished shard;
resume reads each manifest's summary line).

No decoding: the OUTPUT's commit state is written as a run leaves it, with the results
a convert stage returns (100 units of 10 samples per shard, one unit in ten with an
error row), on local disk (``--s3``: also on a local moto server, smaller sizes there).
Prints one line per size and layout.

    uv run python benchmarks/bench_scale.py [--units 1000 10000 100000] [--s3 1000 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.cluster.test_scale import OPTIONS, UNITS, result
from vidray import output as vout
from vidray.io import storage
from vidray.plan import plan_shards


def write_layout_3(out: storage.Location, shards: list[str]) -> int:
    """Every unit's record in ``__units/``; the size of its ``_SUCCESS`` file lists."""
    vout.begin(out, OPTIONS)
    data, errors = [], []
    for shard in shards:
        for i in range(UNITS):
            r = result(shard, i)
            vout.write_json(out, f"{vout.UNITS_DIR}/{r.unit}.json", r.to_json())
            data.append(r.data_file)
            errors += [r.error_file] if r.error_file else []
    return len(json.dumps({"data_files": data, "error_files": errors}, indent=2))


def write_layout_4(out: storage.Location, shards: list[str]) -> int:
    """A manifest per shard, as the driver compacts them; the size of ``_SUCCESS``."""
    vout.begin(out, OPTIONS)
    ledger = vout.Ledger(out)
    ledger.book(result(shard, i) for shard in shards for i in range(UNITS))
    vout.commit(out, ledger, {"source": "bench"})
    storage.remove(out, vout.MARKER)  # as a run under way
    return len(json.dumps(ledger.shards(), indent=2))


def resume(out: storage.Location, shards: list[str]) -> tuple[float, int]:
    tracemalloc.start()
    start = time.perf_counter()
    ledger = vout.claimed_units(out, OPTIONS)
    plan, _ = plan_shards(None, out, shards, None, ledger)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert plan == [] and ledger.units == len(shards) * UNITS
    return seconds, peak


def measure(where: str, root: str, units: int) -> None:
    shards = [f"{i:05d}.tar" for i in range(units // UNITS)]
    for layout, write in ((3, write_layout_3), (4, write_layout_4)):
        out = storage.location(f"{root}/layout{layout}-{units}")
        start = time.perf_counter()
        marker_bytes = write(out, shards)
        written = time.perf_counter() - start
        if layout == 3:  # what layout 3 recorded in _vidray_run.json
            run = vout.read_json(out, vout.RUN_FILE)
            vout.write_json(out, vout.RUN_FILE, {**run, "layout": 3})
        seconds, peak = resume(out, shards)
        print(
            f"{where:5} {units:7d} units, layout {layout}: resume {seconds:6.2f} s, "
            f"peak {peak / 2**20:6.1f} MiB; _SUCCESS's list {marker_bytes / 2**20:6.2f} MiB "
            f"(writing the state: {written:.1f} s)",
            flush=True,
        )


def moto() -> tuple[subprocess.Popen, str]:
    from tests.conftest import BIN, free_port, wait_for_port

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    cmd = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    import boto3

    bucket = f"bench-{secrets.token_hex(4)}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return proc, f"s3://{bucket}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument("--s3", type=int, nargs="*", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for units in args.units:
            measure("local", tmp, units)
    if args.s3:
        proc, root = moto()
        try:
            for units in args.s3:
                measure("s3", root, units)
        finally:
            proc.terminate()


if __name__ == "__main__":
    main()
