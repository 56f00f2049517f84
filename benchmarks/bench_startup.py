"""Start-up of small conversions, with and without the worker preload, and of the demo,
in one run.

For each setting a local Ray instance is started (as vidray starts one), then the same
small WebVid input is converted ``--runs`` times into fresh OUTPUTs; it prints the
seconds of ``ray.init``, of each conversion and until each one's first unit was
committed. ``preload`` is what vidray does (``vidray.cluster.WORKER_PRELOAD`` imported
by idle workers before work comes); ``no-preload`` is the same without it. The first
conversion of an instance starts the worker processes; later ones reuse them, with
their decoder processes (convert tasks, ``vidray.stage.worker_decoder``). Last,
``vidray demo`` runs as a user runs it, and its wall time is printed.

    uv run python benchmarks/bench_startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = time.monotonic()
import ray
from vidray import cluster
from vidray.config import ConvertOptions
from vidray.media.sampling import SamplingPolicy
from vidray.pipeline import convert
preload = sys.argv[1] == "preload"
cfg = {"preload_python_modules": list(cluster.WORKER_PRELOAD)} if preload else {}
ray.init(address="local", include_dashboard=False, logging_level="ERROR", _system_config=cfg)
init = time.monotonic() - t0
runs, first = [], []
for k in range(int(sys.argv[3])):
    t = time.monotonic()
    s = convert(ConvertOptions.of(source="webvid", input=sys.argv[2], output=f"{sys.argv[4]}/{k}",
                               sampling=SamplingPolicy(num_frames=4), size=64,
                               samples_per_file=4, progress=False))
    runs.append(time.monotonic() - t)
    first.append(s.first_unit_s)
ray.shutdown()
print(json.dumps({"init": init, "runs": runs, "first": first}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from vidray import synth

    work = Path(tempfile.mkdtemp(prefix="vidray-bench-startup-"))
    synth.write_webvid(work / "in", shards=2, per_shard=8)
    env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    import json

    print(f"{'setting':11} {'ray.init s':>10}  conversions, s (first unit after, s)")
    for setting in ("no-preload", "preload"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, setting, str(work / "in"), str(args.runs),
             str(work / setting)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        runs = ", ".join(f"{s:.1f} ({f:.1f})" for s, f in zip(r["runs"], r["first"], strict=True))
        print(f"{setting:11} {r['init']:10.1f}  {runs}", flush=True)
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "vidray", "demo", str(work / "demo")], check=True,
                   env={k: v for k, v in env.items() if k != "RAY_ADDRESS"},
                   stdout=subprocess.DEVNULL)  # fmt: skip
    print(f"vidray demo: {time.monotonic() - t0:.1f} s wall", flush=True)


if __name__ == "__main__":
    main()
