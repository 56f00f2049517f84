"""The driver's bookkeeping at scale: planning, resume and commit of 1,000,000 samples in
100,000 units (100 shards of 1,000 units of 10 samples) against the local S3 server,
without decoding and without Ray: the driver's own code (``vout.Ledger``,
``plan.plan_shards``, ``vout.begin``/``vout.commit``) fed with the results a convert
stage returns.

What is written is what a real run leaves once its shards are compacted: one manifest
``__shards/<digest>.jsonl`` per finished shard, and a unit record ``__units/<unit>.json``
only for the units of unfinished shards. (A real run's convert tasks also write each unit's
record before the driver compacts its shard and removes them; 100,000 single PUTs to
moto would take minutes, and leave nothing behind that this test does not write. The
driver still looks for them: one LIST per compacted shard.)

Bounds, 3 to 6 times what was measured on a shared 2-core machine (figures in
``benchmarks/README.md``): resuming (reading OUTPUT's commit state and planning what is
left) in under ``RESUME_S`` seconds and ``RESUME_PEAK`` of Python allocations
(tracemalloc); booking the second run's 50,000 results and committing within
``RUN_PEAK`` of resident memory above where it started (sampled: tracemalloc would slow
it 5x). Reading every unit's record at resume (19.8 s), or holding every result until
the commit (+29 MiB), fails them. The whole test takes 20-25 s here."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import tracemalloc
from collections.abc import Iterator

import boto3
import pytest

from vidray import output as vout
from vidray.io import storage
from vidray.plan import plan_shards
from vidray.records import UnitResult

SHARDS, UNITS, SAMPLES = 100, 1_000, 10
#: Shards the first run finishes; those it leaves unfinished, and their units it did.
FINISHED, OPEN, BEGUN = 50, 2, 20
#: Measured: 1.4-4.1 s, 2.1-2.5 MiB, +6.7-7.5 MiB.
RESUME_S = 10.0
RESUME_PEAK = 16 * 2**20
RUN_PEAK = 24 * 2**20
OPTIONS = {"source": "sim", "samples_per_file": SAMPLES}


def shard_name(i: int) -> str:
    return f"{i:05d}.tar"


def result(shard: str, index: int) -> UnitResult:
    """What a convert stage returns for a unit: one unit in ten has an error row."""
    unit = vout.unit_name(shard, index)
    failed = index % 10 == 0
    return UnitResult(
        unit=unit,
        shard=shard,
        index=index,
        last=index == UNITS - 1,
        samples=SAMPLES,
        rows=SAMPLES - failed,
        frames=8 * (SAMPLES - failed),
        errors={"decode_error": 1} if failed else {},
        data_file=vout.data_file_name(unit, "train"),
        error_file=vout.error_file_name(unit) if failed else None,
        decoders={"cpu": SAMPLES - failed},
        groups={"cpu": SAMPLES},
        committed_at=round(time.time(), 3),
        clips=SAMPLES - failed,
    )


#: Shards read at once (a read task each): their units interleave in the results.
READING = 4


def stage(shards: list[str], indices: range) -> Iterator[UnitResult]:
    """The results of ``indices`` of each shard, as a run's convert tasks return them:
    ``READING`` shards at a time, their units interleaved and not in index order."""
    for at in range(0, len(shards), READING):
        for index in sorted(indices, key=lambda i: (i % 7, i)):
            for shard in shards[at : at + READING]:
                yield result(shard, index)


def actor_commit(out: storage.Location, r: UnitResult) -> None:
    """What a convert task writes last for a unit: its commit record (``UnitWriter.commit``)."""
    vout.write_json(out, f"{vout.UNITS_DIR}/{r.unit}.json", r.to_json())


def measured(fn, *args):
    """``fn(*args)``, its seconds and its peak traced memory (Python's allocations)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        value = fn(*args)
        return value, time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measured_rss(fn, *args):
    """``fn(*args)``, its seconds and how far the process's resident memory rose above
    where it was (sampled every 10 ms): tracemalloc would slow 100,000 bookings 5x."""
    base, peak, done = rss(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], rss() - base)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    try:
        value = fn(*args)
        return value, time.perf_counter() - start, max(peak[0], rss() - base)
    finally:
        done.set()
        sampler.join()


def resume(out: storage.Location, shards: list[str]):
    ledger = vout.claimed_units(out, OPTIONS)
    plan, _ = plan_shards(None, out, shards, None, ledger)  # type: ignore[arg-type]
    return ledger, plan


@pytest.fixture
def out(s3_endpoint: str) -> storage.Location:
    bucket = f"vidray-scale-{secrets.token_hex(4)}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return storage.location(f"s3://{bucket}/out")


def test_a_million_samples_plan_commit_and_resume_in_bounded_memory_and_time(out, capsys):
    shards = [shard_name(i) for i in range(SHARDS)]
    ledger = vout.claimed_units(out, OPTIONS)
    plan, _ = plan_shards(None, out, shards, None, ledger)  # type: ignore[arg-type]
    assert len(plan) == SHARDS and all(skip == frozenset() for _, _, skip, _ in plan)
    vout.begin(out, OPTIONS, ledger)

    # The first run finishes FINISHED shards and begins OPEN more, then dies.
    begun = shards[FINISHED : FINISHED + OPEN]
    for r in stage(begun, range(BEGUN)):
        actor_commit(out, r)
        ledger.add(r)
    start = time.perf_counter()
    ledger.book(stage(shards[:FINISHED], range(UNITS)))
    first_s = time.perf_counter() - start
    assert len(ledger.closed) == FINISHED and ledger.units == FINISHED * UNITS + OPEN * BEGUN
    del ledger

    # The next run resumes from what OUTPUT holds.
    (ledger, plan), resume_s, resume_peak = measured(resume, out, shards)
    assert ledger.units == FINISHED * UNITS + OPEN * BEGUN
    assert ledger.samples == ledger.units * SAMPLES
    assert [shard for shard, *_ in plan] == shards[FINISHED:]
    assert {shard: skip for shard, _, skip, _ in plan if skip} == {
        shard: frozenset(range(BEGUN)) for shard in begun
    }
    assert resume_s < RESUME_S, f"resume took {resume_s:.1f} s"
    assert resume_peak < RESUME_PEAK, f"resume peaked at {resume_peak / 2**20:.0f} MiB"

    def finish() -> dict:
        vout.begin(out, OPTIONS, ledger)
        ledger.book(stage(begun, range(BEGUN, UNITS)))
        ledger.book(stage(shards[FINISHED + OPEN :], range(UNITS)))
        return vout.commit(out, ledger, {"source": "sim"})

    manifest, run_s, run_peak = measured_rss(finish)
    assert run_peak < RUN_PEAK, f"booking and commit peaked at {run_peak / 2**20:.0f} MiB"
    counts = manifest["counts"]
    assert (counts["samples"], counts["units"], counts["shards"]) == (1_000_000, 100_000, SHARDS)
    assert counts["errors_by_reason"] == {"decode_error": SHARDS * UNITS // 10}
    assert counts["rows"] == 1_000_000 - SHARDS * UNITS // 10
    assert [(s["shard"], s["manifest"], s["units"]) for s in manifest["shards"]] == [
        (s, vout.shard_manifest_name(s), UNITS) for s in shards
    ]
    # _SUCCESS lists shards, not files: its size grows with the shards
    marker = storage.open_read(out, vout.MARKER).read()
    assert len(marker) < 200 * SHARDS and "data_files" not in json.loads(marker)
    assert not storage.list_files(out, (".json",), vout.UNITS_DIR)
    assert vout.complete_manifest(out, OPTIONS, manifest.get("inputs")) == json.loads(marker)

    # Resuming the complete OUTPUT: every shard compacted, nothing left to plan.
    (ledger, plan), again_s, again_peak = measured(resume, out, shards)
    assert plan == [] and ledger.units == SHARDS * UNITS and not ledger.open
    assert again_s < RESUME_S and again_peak < RESUME_PEAK
    with capsys.disabled():
        print(
            f"\n[scale] {SHARDS * UNITS * SAMPLES} samples, {SHARDS * UNITS} units: "
            f"booking {FINISHED} shards {first_s:.1f} s; "
            f"resume at {FINISHED}+{OPEN} shards {resume_s:.2f} s "
            f"(peak {resume_peak / 2**20:.1f} MiB); rest and commit {run_s:.1f} s "
            f"(RSS +{run_peak / 2**20:.1f} MiB); resume when complete {again_s:.2f} s "
            f"(peak {again_peak / 2**20:.1f} MiB); _SUCCESS {len(marker)} bytes"
        )


# ------------------------------------------------------------ the ledger's bookkeeping


def committed_result(out: storage.Location, shard: str, index: int, last: int) -> UnitResult:
    """A unit as a convert task leaves it: committed (its record in ``__units/``)."""
    r = result(shard, index)
    r.last = index == last
    actor_commit(out, r)
    return r


def records_on_disk(out: storage.Location) -> list[str]:
    return [rel.split("/")[-1] for rel in storage.list_files(out, (".json",), vout.UNITS_DIR)]


def test_a_shard_is_compacted_once_all_its_units_are_in_whatever_their_order(tmp_path):
    out = storage.location(str(tmp_path / "out"))
    ledger = vout.Ledger(out)
    for shard, index in [("a", 2), ("b", 0), ("a", 0), ("b", 2), ("a", 1)]:
        ledger.add(committed_result(out, shard, index, last=2))
    # a is complete: one manifest, its records gone; b (no unit 1 yet) stays open
    assert set(ledger.closed) == {"a"} and set(ledger.open) == {"b"}
    assert storage.list_files(out, (".jsonl",), vout.SHARDS_DIR) == [vout.shard_manifest_name("a")]
    assert records_on_disk(out) == ["b-00000.json", "b-00002.json"]
    assert [r.index for r in vout.shard_records(out, "a").values()] == [0, 1, 2]
    resumed = vout.Ledger.load(out)
    assert resumed.progress("a") == (range(3), 2)
    assert resumed.progress("b") == (frozenset({0, 2}), 2)
    assert vout.committed_count(out) == resumed.units == 5
    with pytest.raises(RuntimeError, match="more than once: a-00001"):
        ledger.add(result("a", 1))


def test_a_compaction_cut_short_is_finished_by_the_commit(tmp_path):
    out = storage.location(str(tmp_path / "out"))
    ledger = vout.Ledger(out)
    units = [committed_result(out, "a", i, last=1) for i in range(2)]
    ledger.book(units)
    for r in units:  # the driver died between the manifest and the records' removal
        actor_commit(out, r)
    assert vout.committed_count(out) == 2  # counted once
    resumed = vout.Ledger.load(out)
    plan, _ = plan_shards(None, out, ["a"], None, resumed)  # type: ignore[arg-type]
    assert plan == [] and resumed.units == 2
    manifest = vout.commit(out, resumed, {"source": "sim"})
    assert (manifest["counts"]["units"], manifest["counts"]["samples"]) == (2, 2 * SAMPLES)
    assert records_on_disk(out) == [] and len(vout.shard_records(out, "a")) == 2


def test_a_retried_unit_reopens_its_shard_and_replaces_its_record(tmp_path):
    out = storage.location(str(tmp_path / "out"))
    vout.Ledger(out).book(committed_result(out, "a", i, last=1) for i in range(2))
    ledger = vout.Ledger.load(out)
    assert ledger.totals.errors == {"decode_error": 1}  # unit 0 has an error row
    ledger.expect({"a": {0: ("id",)}})
    fixed = committed_result(out, "a", 0, last=1)
    fixed.errors, fixed.error_file, fixed.rows = {}, None, SAMPLES
    ledger.add(fixed)
    assert set(ledger.closed) == {"a"} and not ledger.open
    assert ledger.totals.errors == {} and ledger.totals.rows == 2 * SAMPLES
    assert vout.shard_records(out, "a")["a-00000"].error_file is None
    assert records_on_disk(out) == []
