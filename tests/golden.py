"""Golden outputs for refactors: convert every fixture set (all sources, both layouts,
error rows included), export each output in every format and write its report, then
hash what came out. Two runs of different code must give the same hashes.

    python -m tests.golden DIR            # writes DIR/hashes.json (and keeps the files)
    python -m tests.golden DIR --compare OLD/hashes.json

Paths are fixed (``/tmp/vidray-golden``, else ``VIDRAY_GOLDEN_WORK``) so rows that carry
a path are comparable; runs on one machine take turns (a lock file beside it).
Run-specific values (times, throughput, host names) are dropped from the JSON markers
and the report before hashing; the data and error files are hashed as bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

WORK = Path(os.environ.get("VIDRAY_GOLDEN_WORK", "/tmp/vidray-golden"))
_VOLATILE = re.compile(
    r"(time|seconds|_s$|started|finished|elapsed|host|pid|node|wall|rate|throughput|per_s|"
    r"created|at$|when|duration_s|attempt_s)",
)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if not _VOLATILE.search(k)}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _hash_file(path: Path) -> str:
    data = path.read_bytes()
    if path.name in ("_SUCCESS", "_vidray_run.json") or (
        path.suffix == ".json" and ("__units" in path.parts or "__shards" in path.parts)
    ):
        with contextlib.suppress(ValueError):
            data = json.dumps(_scrub(json.loads(data)), sort_keys=True).encode()
    if path.suffix == ".jsonl" and "__shards" in path.parts:
        lines = [json.dumps(_scrub(json.loads(x)), sort_keys=True) for x in data.splitlines()]
        data = "\n".join(sorted(lines)).encode()
    if path.suffix == ".html":
        text = data.decode()
        text = re.sub(r"\d+(\.\d+)?\s*(s|ms|samples/s|rows/s|clips/s)\b", "N", text)
        text = re.sub(r"(committed_at|elapsed_s) <code>[^<]*</code>", r"\1", text)
        # the throughput section (unit commit times) and its chart
        text = re.sub(r"<h2[^>]*>Throughput.*?(?=<h2|$)", "", text, flags=re.S)
        data = text.encode()
    return hashlib.sha256(data).hexdigest()


def hash_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(WORK).as_posix(): _hash_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".tmp" not in p.name
    }


def fixtures(root: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    from tests.helpers.datasets import builders
    from vidray import synth

    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    for name, build in sorted(builders().items()):
        (root / name).mkdir(parents=True)
        expected = build(root / name)
        opts = dict(expected.options)
        if "videos" in opts:
            opts["videos"] = str(root / name / opts["videos"])
        out[name] = (root / name, opts)
    synth.write_webvid(root / "webvid", shards=2, per_shard=5, corrupt={"1000074"})
    out["webvid"] = (root / "webvid", {})
    synth.write_finevideo(root / "finevideo", files=2, per_file=3, qa_per_video=3)
    out["finevideo"] = (root / "finevideo", {})
    return out


def run(only: list[str] | None) -> dict[str, str]:
    from vidray import sources
    from vidray.config import ConvertOptions
    from vidray.export import FORMATS, ExportOptions, export
    from vidray.media.sampling import SamplingPolicy
    from vidray.pipeline import convert
    from vidray.report import report

    shutil.rmtree(WORK, ignore_errors=True)
    sets = fixtures(WORK / "in")
    failures: dict[str, str] = {}
    for name, (root, opts) in sets.items():
        if only and name not in only:
            continue
        images = getattr(sources.REGISTRY[name], "media", "video") == "image"
        for layout in ("rows",) if images else ("rows", "clips"):
            out = WORK / "out" / f"{name}-{layout}"
            try:
                convert(
                    ConvertOptions.of(
                        source=name,
                        input=str(root),
                        output=str(out),
                        sampling=SamplingPolicy(num_frames=4),
                        size=32,
                        samples_per_file=3,
                        num_workers=1,
                        progress=False,
                        layout=layout,
                        **opts,
                    )
                )
            except Exception as e:
                failures[f"{name}-{layout}"] = f"convert: {type(e).__name__}: {e}"
                continue
            for fmt in FORMATS:
                dest = WORK / "export" / f"{name}-{layout}" / fmt
                try:
                    export(ExportOptions(format=fmt, output=str(out), dest=str(dest)))
                except Exception as e:
                    failures[f"{name}-{layout}-{fmt}"] = f"{type(e).__name__}: {e}"
            try:
                report(str(out), str(WORK / "report" / f"{name}-{layout}"))
            except Exception as e:
                failures[f"{name}-{layout}-report"] = f"{type(e).__name__}: {e}"
            print(f"{name}-{layout} done", flush=True)
    hashes = hash_tree(WORK / "out")
    hashes.update(hash_tree(WORK / "export"))
    hashes.update(hash_tree(WORK / "report"))
    hashes.update({f"FAILED {k}": v for k, v in failures.items()})
    return hashes


def main() -> int:
    import fcntl

    # One golden run at a time on this machine: the paths are fixed (rows carry them).
    lock = open(f"{WORK}.lock", "w")  # noqa: SIM115 (held until the process exits)
    fcntl.flock(lock, fcntl.LOCK_EX)
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--compare")
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    hashes = run(args.only)
    dest = Path(args.dir)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "hashes.json").write_text(json.dumps(hashes, indent=1, sort_keys=True))
    shutil.rmtree(dest / "files", ignore_errors=True)
    shutil.copytree(WORK, dest / "files", ignore=shutil.ignore_patterns("in"))
    print(f"{len(hashes)} files hashed into {dest / 'hashes.json'}")
    if not args.compare:
        return 0
    old = json.loads(Path(args.compare).read_text())
    if args.only:
        old = {k: v for k, v in old.items() if any(f"/{n}-" in k for n in args.only)}
    diff = sorted(k for k in old.keys() | hashes.keys() if old.get(k) != hashes.get(k))
    for k in diff:
        print(f"DIFFERS {k}: {old.get(k, 'missing')[:12]} -> {hashes.get(k, 'missing')[:12]}")
    print("IDENTICAL" if not diff else f"{len(diff)} files differ")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
