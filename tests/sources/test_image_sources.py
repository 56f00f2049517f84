"""The guarantees of the video sources, held by an image source end to end on Ray:
deterministic ids, output identical across worker counts, resume, ``--retry-failed``,
and exports that validate. (S3 input: every image source's fixture converts from the
local S3 server in ``test_source_fixtures.py``.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.datasets import image_bytes, mscoco2014, write_bytes
from tests.helpers.layouts import reopen_shard
from vidray import output as vout
from vidray.cli import main
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.pipeline import convert

MISSING = "mscoco2014:train2014/COCO_train2014_000000000099.jpg#0"


def run(root: Path, out: Path, **kw):
    kw.setdefault("samples_per_file", 2)
    kw.setdefault("size", 24)
    return convert(
        ConvertOptions.of(
            source="mscoco2014", input=str(root), output=str(out), progress=False, **kw
        )
    )


def fingerprint(out: Path) -> list[tuple]:
    rows = vout.read_output(str(out)).to_pylist()
    return sorted(
        (r["id"], r["video"], json.dumps(r["conversations"]), tuple(r["frames"]), r["width"])
        for r in rows
    )


@pytest.fixture
def coco(tmp_path: Path) -> Path:
    root = tmp_path / "coco"
    mscoco2014.build(root)
    return root


def test_worker_counts_give_identical_output(ray_head, coco, tmp_path):
    one = run(coco, tmp_path / "one", num_workers=1, seed=4)
    two = run(coco, tmp_path / "two", num_workers=2, seed=4)
    assert one.rows == two.rows == 5
    assert fingerprint(tmp_path / "one") == fingerprint(tmp_path / "two")
    assert sorted(p.name for p in (tmp_path / "one" / "data").iterdir()) == sorted(
        p.name for p in (tmp_path / "two" / "data").iterdir()
    )
    # the instruction is the seed's: another seed, other instructions, the same ids
    other = run(coco, tmp_path / "three", seed=5)
    assert [f[0] for f in fingerprint(tmp_path / "three")] == [
        f[0] for f in fingerprint(tmp_path / "one")
    ]
    assert fingerprint(tmp_path / "three") != fingerprint(tmp_path / "one") and other.rows == 5


def test_an_interrupted_run_resumes_and_failed_images_are_retried(ray_head, coco, tmp_path):
    out = tmp_path / "out"
    first = run(coco, out)
    assert (first.rows, first.errors) == (5, {"missing_image": 1, "bad_annotation": 1})
    before = fingerprint(out)
    # as a run that died after committing all but its last unit leaves it
    last = max(vout.committed_records(storage.location(str(out))), key=lambda r: r.unit)
    reopen_shard(out, last.shard, drop=[last.unit])
    resumed = run(coco, out)
    assert (resumed.units, resumed.resumed_units) == (1, first.units - 1)
    assert fingerprint(out) == before

    # the missing image is downloaded at last: only the failed sample is redone
    write_bytes(coco / "train2014" / "COCO_train2014_000000000099.jpg", image_bytes(40, 30))
    run(coco, out, retry_failed=True)
    rows = {r["id"]: r for r in vout.read_output(str(out)).to_pylist()}
    assert len(rows) == 6
    assert MISSING in rows and (rows[MISSING]["width"], rows[MISSING]["height"]) == (32, 24)
    assert [e["id"] for e in vout.read_output(str(out), "errors").to_pylist()] == [
        "mscoco2014:captions_train.json#5"
    ]
    assert sorted(set(fingerprint(out)) - set(before)) == [
        f for f in fingerprint(out) if f[0] == MISSING
    ]


@pytest.mark.parametrize("fmt", ["llamafactory", "llava", "clip", "frames"])
def test_a_converted_image_set_exports_and_validates(ray_head, coco, tmp_path, fmt, capsys):
    out = tmp_path / "out"
    run(coco, out)
    dest = tmp_path / fmt
    assert main(["export", fmt, str(out), str(dest)]) == 0, capsys.readouterr().err
    assert "exported 5 records" in capsys.readouterr().out or fmt == "frames"
    if fmt == "clip":
        records = json.loads((dest / "mscoco2014.json").read_text())
        assert {r["split"] for r in records} == {"train"}
        assert json.loads((dest / "dataset_info.json").read_text()) == {
            "mscoco2014": {"file_name": "mscoco2014.json"}
        }
