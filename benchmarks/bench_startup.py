"""Start-up of small conversions, with and without the worker preload, in one run.

For each setting a local Ray instance is started (as vidray starts one), then the same
small WebVid input is converted ``--runs`` times into fresh OUTPUTs; it prints the
seconds of ``ray.init`` and of each conversion. ``preload`` is what vidray does
(``vidray.cluster.WORKER_PRELOAD`` imported by idle workers before work comes);
``no-preload`` is the same without it. Each conversion builds a new actor pool, so
every run after the first shows what a pipeline's start-up costs.

    uv run python benchmarks/bench_startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
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
ray.init(include_dashboard=False, logging_level="ERROR", _system_config=cfg)
init = time.monotonic() - t0
runs = []
for k in range(int(sys.argv[3])):
    t = time.monotonic()
    convert(ConvertOptions(source="webvid", input=sys.argv[2], output=f"{sys.argv[4]}/{k}",
                           sampling=SamplingPolicy(num_frames=4), size=64,
                           samples_per_file=4, progress=False))
    runs.append(time.monotonic() - t)
ray.shutdown()
print(json.dumps({"init": init, "runs": runs}))
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

    print(f"{'setting':11} {'ray.init s':>10}  conversions (s)")
    for setting in ("no-preload", "preload"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, setting, str(work / "in"), str(args.runs),
             str(work / setting)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        runs = ", ".join(f"{s:.1f}" for s in r["runs"])
        print(f"{setting:11} {r['init']:10.1f}  {runs}", flush=True)


if __name__ == "__main__":
    main()
