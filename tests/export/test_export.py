"""``vidray export``: records trainers load, frames on disk, splits, validation.

The OUTPUT is built without Ray, through the unit writer (``tests.output.write_unit``)
and ``commit``, with real JPEG frames that carry their frame index
(``synth.frame_image``), so a test can read back which frame each exported file shows.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import pytest
from PIL import Image

from tests.output import write_unit
from vidray import export, synth
from vidray import output as vout
from vidray.cli import main
from vidray.io import storage

SPEC = synth.VideoSpec(width=80, height=48)
SOURCE = "demo"
#: The dataset_info.json entry form of seed 001, written out literally.
SEED_ENTRY_TAIL = {
    "formatting": "sharegpt",
    "columns": {"messages": "messages", "videos": "videos"},
    "tags": {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
    },
}


@cache
def jpeg(index: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(synth.frame_image(index, SPEC)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def make_row(
    rid: str,
    video: str,
    clip: tuple[float, float] | None,
    qa: list[tuple[str, str]],
    frames: list[int],
) -> dict:
    """A data row as the pipeline writes it; frame ``i`` shows index ``i`` at ``i/2`` s.
    ``frames`` is the stored order (the export must sort by timestamp)."""
    turns = []
    for k, (q, a) in enumerate(qa):
        turns += [
            {"from": "human", "value": ("<image>\n" if k == 0 else "") + q},
            {"from": "gpt", "value": a},
        ]
    return {
        "id": rid,
        "source": SOURCE,
        "video": video,
        "clip_start": clip[0] if clip else None,
        "clip_end": clip[1] if clip else None,
        "conversations": turns,
        "query": qa[0][0],
        "frames": [jpeg(i) for i in frames],
        "frame_timestamps": [i / 2 for i in frames],
        "width": SPEC.width,
        "height": SPEC.height,
        "video_duration": 20.0,
        "video_fps": 10.0,
    }


#: Five rows in two data files: a single-turn row with frames stored out of order, two
#: rows sharing one video+clip (one in each file), a multi-turn row, and another clip of
#: the multi-turn row's video.
ROWS = [
    make_row("demo:a#1", "shard-0.tar#a 1.mp4", None, [("What is shown?", "A cat.")], [2, 0, 1]),
    make_row("demo:b:0", "b.mp4", (1.0, 3.0), [("Who enters?", "A man.")], [2, 3, 4, 5]),
    make_row(
        "demo:c:0",
        "data/x.parquet#3",
        (0.0, 5.0),
        [("First?", "One."), ("Second?", "Two."), ("Third?", "Three.")],
        [0, 4, 8],
    ),
    make_row("demo:c:1", "data/x.parquet#3", (5.0, 9.0), [("Later?", "Yes.")], [10, 12]),
    make_row("demo:b:1", "b.mp4", (1.0, 3.0), [("Who leaves?", "A dog.")], [2, 3, 4, 5]),
]


def write_output(root: Path, units: list[list[dict]], *, finish: bool = True) -> str:
    out = storage.location(str(root))
    results = [write_unit(out, f"u-{k:05d}", len(rows), rows, []) for k, rows in enumerate(units)]
    if finish:
        vout.commit(out, results, {"source": SOURCE})
    return str(root)


@pytest.fixture
def output(tmp_path: Path) -> str:
    return write_output(tmp_path / "out", [ROWS[:3], ROWS[3:]])


def run(*args: str) -> int:
    return main(["export", *args])


def load(path: Path) -> list | dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def frame_indices(paths: list[Path]) -> list[int]:
    return [synth.read_index_jpeg(p.read_bytes()) for p in paths]


# --------------------------------------------------------------------------- llamafactory


def test_llamafactory_records_load_as_llamafactory_reads_them(output, tmp_path, capsys):
    dest = tmp_path / "lf"
    assert run("llamafactory", output, str(dest)) == 0
    assert "exported 5 records (llamafactory)" in capsys.readouterr().out
    records = load(dest / "demo.json")
    assert len(records) == len(ROWS)
    by_question = {}
    for rec in records:
        assert set(rec) == {"messages", "videos"}
        text = "".join(m["content"] for m in rec["messages"])
        assert text.count("<video>") == len(rec["videos"]) == 1
        assert "<image>" not in text
        roles = [m["role"] for m in rec["messages"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) and roles
        for path in rec["videos"][0]:
            # LLaMA-Factory joins a relative path with media_dir (default: dataset_dir)
            assert not os.path.isabs(path) and os.path.isfile(os.path.join(dest, path))
        assert rec["messages"][0]["content"].startswith("<video>")
        by_question[rec["messages"][0]["content"]] = rec

    multi = by_question["<video>First?"]
    assert [m["content"] for m in multi["messages"]] == [
        "<video>First?",
        "One.",
        "Second?",
        "Two.",
        "Third?",
        "Three.",
    ]
    # frames of the stored-out-of-order row come back in time order, with their bytes
    first = [dest / p for p in by_question["<video>What is shown?"]["videos"][0]]
    assert [p.name for p in first] == ["image_00001.jpg", "image_00002.jpg", "image_00003.jpg"]
    assert frame_indices(first) == [0, 1, 2]
    assert first[0].read_bytes() == jpeg(0)
    # two rows of one clip point at the same files, written once
    assert (
        by_question["<video>Who enters?"]["videos"] == by_question["<video>Who leaves?"]["videos"]
    )
    folders = sorted(os.listdir(dest / "frames"))
    assert len(folders) == 4  # a, b(1-3), c(0-5), c(5-9)
    assert sum(len(os.listdir(dest / "frames" / f)) for f in folders) == 3 + 4 + 3 + 2

    assert load(dest / "dataset_info.json") == {
        "demo": {"file_name": "demo.json", **SEED_ENTRY_TAIL}
    }


def test_llamafactory_absolute_paths(output, tmp_path):
    dest = tmp_path / "lf"
    assert run("llamafactory", output, str(dest), "--absolute-paths", "--name", "x") == 0
    for rec in load(dest / "x.json"):
        for path in rec["videos"][0]:
            assert os.path.isabs(path) and os.path.isfile(path)


def test_dataset_info_merge_keeps_entries_and_refuses_clashes(output, tmp_path, capsys):
    dest = tmp_path / "lf"
    dest.mkdir()
    existing = {
        "caltech101": {"file_name": "caltech101.json"},
        "demo_val": {"file_name": "demo_val.json", **SEED_ENTRY_TAIL},  # same as ours
    }
    (dest / "dataset_info.json").write_text(json.dumps(existing))
    args = ("llamafactory", output, str(dest), "--split", "train=0.5,val=0.5")
    assert run(*args) == 0
    info = load(dest / "dataset_info.json")
    assert list(info) == ["caltech101", "demo_val", "demo_train"]
    assert info["caltech101"] == existing["caltech101"]
    for split in ("train", "val"):
        assert info[f"demo_{split}"] == {"file_name": f"demo_{split}.json", **SEED_ENTRY_TAIL}
        assert isinstance(load(dest / f"demo_{split}.json"), list)
    assert not (dest / "demo.json").exists()
    assert run(*args) == 0  # the same export again: same entries, no clash

    clash = {**info, "demo_train": {"file_name": "someone_elses.json"}}
    (dest / "dataset_info.json").write_text(json.dumps(clash))
    capsys.readouterr()
    assert run(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("vidray: error:") and "demo_train" in err and "--overwrite" in err
    assert load(dest / "dataset_info.json") == clash  # untouched
    assert run(*args, "--overwrite") == 0
    assert load(dest / "dataset_info.json")["demo_train"]["file_name"] == "demo_train.json"


# --------------------------------------------------------------------------- llava


def test_llava_records_match_the_recipe(output, tmp_path):
    dest = tmp_path / "llava"
    assert run("llava", output, str(dest)) == 0
    records = {r["id"]: r for r in load(dest / "demo.json")}
    assert set(records) == {r["id"] for r in ROWS}
    for row in ROWS:
        rec = records[row["id"]]
        assert list(rec) == ["id", "conversations", "video", "query"]
        assert rec["conversations"] == row["conversations"]
        assert rec["conversations"][0]["value"].startswith("<image>\n")
        assert sum(t["value"].count("<image>") for t in rec["conversations"]) == 1
        assert rec["query"] == row["query"]
        folder = dest / rec["video"]  # relative to DEST, LLaVA's video_folder
        assert not os.path.isabs(rec["video"]) and folder.is_dir()
        names = sorted(os.listdir(folder))
        assert names == [f"image_{k:05d}.jpg" for k in range(1, len(row["frames"]) + 1)]
    assert records["demo:b:0"]["video"] == records["demo:b:1"]["video"]
    assert records["demo:c:0"]["video"] != records["demo:c:1"]["video"]


# --------------------------------------------------------------------------- frames


def test_frames_folders_and_index(output, tmp_path):
    dest = tmp_path / "frames"
    assert run("frames", output, str(dest)) == 0
    with open(dest / "demo_index.jsonl", encoding="utf-8") as f:
        index = [json.loads(line) for line in f]
    assert len(index) == 4
    by_ids = {tuple(e["ids"]): e for e in index}
    assert set(by_ids) == {("demo:a#1",), ("demo:b:0", "demo:b:1"), ("demo:c:0",), ("demo:c:1",)}
    shared = by_ids[("demo:b:0", "demo:b:1")]
    assert (shared["video"], shared["clip_start"], shared["clip_end"]) == ("b.mp4", 1.0, 3.0)
    rows = {r["id"]: r for r in ROWS}
    for ids, entry in by_ids.items():
        row = rows[ids[0]]
        folder = dest / entry["folder"]
        names = sorted(os.listdir(folder))
        assert names == [f"image_{k:05d}.jpg" for k in range(1, len(row["frames"]) + 1)]
        assert entry["num_frames"] == len(names)
        # image_00001.jpg.. in timestamp order: the frame index drawn in each image
        shown = frame_indices([folder / n for n in names])
        assert shown == sorted(int(t * 2) for t in row["frame_timestamps"])
        assert entry["frame_timestamps"] == [i / 2 for i in shown]

    # a stale frame from an earlier, longer export is removed on the next export
    stale = dest / shared["folder"] / "image_00099.jpg"
    stale.write_bytes(jpeg(0))
    assert run("frames", output, str(dest)) == 0
    assert not stale.exists()


# --------------------------------------------------------------------------- splits


def many_rows(n_rows: int = 200) -> list[dict]:
    """~200 rows: clips with one to three rows each, several clips per video."""
    rows = []
    k = 0
    while len(rows) < n_rows:
        video, clip = f"v{k // 3}.mp4", (float(k % 3), float(k % 3) + 1.0)
        for j in range(1 + k % 3):
            rows.append(make_row(f"demo:{k}:{j}", video, clip, [(f"Q{k}.{j}", "A")], [0, 1]))
        k += 1
    return rows[:n_rows]


def split_assignment(dest: Path, splits: list[str]) -> dict[str, str]:
    """Row id -> split, from the llava files."""
    found = {}
    for split in splits:
        for rec in load(dest / f"demo_{split}.json"):
            assert rec["id"] not in found
            found[rec["id"]] = split
    return found


def test_split_is_deterministic_grouped_and_roughly_proportional(tmp_path):
    rows = many_rows()
    output = write_output(tmp_path / "out", [rows[:90], rows[90:]])
    spec = "train=0.8,val=0.1,test=0.1"
    names = ["train", "val", "test"]
    runs = {}
    for label, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        dest = tmp_path / label
        assert run("llava", output, str(dest), "--split", spec, "--seed", seed) == 0
        runs[label] = split_assignment(dest, names)
    assert set(runs["a"]) == {r["id"] for r in rows}  # every row exactly once
    assert runs["a"] == runs["b"]
    assert (tmp_path / "a" / "demo_train.json").read_bytes() == (
        tmp_path / "b" / "demo_train.json"
    ).read_bytes()
    assert runs["a"] != runs["c"]

    counts = Counter(runs["a"].values())
    for name, ratio in zip(names, (0.8, 0.1, 0.1), strict=True):
        assert abs(counts[name] / len(rows) - ratio) < 0.1, counts
    # the rows of one video+clip never straddle splits
    for assignment in runs.values():
        per_clip = defaultdict(set)
        for row in rows:
            per_clip[(row["video"], row["clip_start"])].add(assignment[row["id"]])
        assert all(len(s) == 1 for s in per_clip.values())
        assert any(len(s) > 1 for s in _per_video(rows, assignment).values())

    # --split-by video keeps the clips of one video together as well
    dest = tmp_path / "byvideo"
    assert run("llava", output, str(dest), "--split", spec, "--split-by", "video") == 0
    assignment = split_assignment(dest, names)
    assert all(len(s) == 1 for s in _per_video(rows, assignment).values())


def _per_video(rows: list[dict], assignment: dict[str, str]) -> dict[str, set[str]]:
    per_video = defaultdict(set)
    for row in rows:
        per_video[row["video"]].add(assignment[row["id"]])
    return per_video


def test_split_file_per_split_for_every_format(output, tmp_path):
    spec = "train=0.6,test=0.4"
    assert run("frames", output, str(tmp_path / "f"), "--split", spec) == 0
    lines = [
        json.loads(line)
        for s in ("train", "test")
        for line in (tmp_path / "f" / f"demo_{s}_index.jsonl").read_text().splitlines()
    ]
    assert sorted(i for e in lines for i in e["ids"]) == sorted(r["id"] for r in ROWS)
    assert run("llamafactory", output, str(tmp_path / "l"), "--split", spec) == 0
    total = sum(len(load(tmp_path / "l" / f"demo_{s}.json")) for s in ("train", "test"))
    assert total == len(ROWS)


def test_assign_split_proportions_and_seed():
    splits = export.parse_split("train=0.7,val=0.2,test=0.1")
    keys = [export.group_key(f"v{i}.mp4", 0.0, 1.0) for i in range(20000)]
    counts = Counter(export.assign_split(k, splits, 0) for k in keys)
    for name, ratio in splits:
        assert abs(counts[name] / len(keys) - ratio) < 0.015
    again = [export.assign_split(k, splits, 0) for k in keys[:500]]
    other = [export.assign_split(k, splits, 7) for k in keys[:500]]
    assert again == [export.assign_split(k, splits, 0) for k in keys[:500]]
    assert again != other


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("train=0.8,test=0.1", "sum to 1"),
        ("train=1.2,test=-0.2", "must be > 0"),
        ("train=0,test=1", "must be > 0"),
        ("train=0.5,train=0.5", "given twice"),
        ("train", "NAME=RATIO"),
        ("train=x,test=1", "not a number"),
        ("a/b=0.5,c=0.5", "bad split name"),
    ],
)
def test_bad_split_is_a_clear_error(output, tmp_path, capsys, spec, message):
    assert run("llava", output, str(tmp_path / "d"), "--split", spec) == 2
    err = capsys.readouterr().err
    assert err.startswith("vidray: error: --split") and message in err


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    cases = []
    cases.append((str(tmp_path / "missing"), "does not exist"))
    plain = tmp_path / "plain"
    (plain / "data").mkdir(parents=True)
    (plain / "data" / "x.parquet").write_bytes(b"not parquet")
    cases.append((str(plain), "not a vidray output"))
    cases.append((write_output(tmp_path / "empty", []), "no data rows"))
    for uri, message in cases:
        assert run("llava", uri, str(tmp_path / "d")) == 2
        err = capsys.readouterr().err
        assert err.startswith("vidray: error:") and message in err, err
    good = write_output(tmp_path / "good", [ROWS])
    assert run("llava", good, "s3://bucket/dest") == 2
    assert "local directory" in capsys.readouterr().err
    broken = write_output(tmp_path / "broken", [ROWS])
    (data_file,) = (Path(broken) / "data").iterdir()
    data_file.write_bytes(b"PAR1 garbage")
    assert run("llava", broken, str(tmp_path / "d")) == 2
    assert "not a Parquet file" in capsys.readouterr().err


def test_a_running_output_exports_its_committed_units(tmp_path, capsys):
    output = write_output(tmp_path / "out", [ROWS[:2], ROWS[2:]], finish=False)
    assert run("llava", output, str(tmp_path / "d")) == 0
    assert "no _SUCCESS" in capsys.readouterr().err
    assert len(load(tmp_path / "d" / "demo.json")) == len(ROWS)  # name from the rows


def test_export_reads_an_s3_output(output, tmp_path, s3_bucket):
    """The same records from S3 as from the local copy (moto's S3 server, no Ray)."""
    from tests.conftest import upload_dir

    upload_dir(Path(output), s3_bucket, "out/demo")
    assert run("llamafactory", f"s3://{s3_bucket}/out/demo", str(tmp_path / "s3")) == 0
    assert run("llamafactory", output, str(tmp_path / "local")) == 0
    for rel in ("demo.json", "dataset_info.json"):
        assert (tmp_path / "s3" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes()
    assert sorted(os.listdir(tmp_path / "s3" / "frames")) == sorted(
        os.listdir(tmp_path / "local" / "frames")
    )


# --------------------------------------------------------------------------- validation


def test_validators_catch_corrupted_records(output, tmp_path):
    dest = tmp_path / "lf"
    assert run("llamafactory", output, str(dest)) == 0
    good = load(dest / "demo.json")[0]
    export.LlamaFactoryFormat.validate(good, dest)  # the real record passes

    def bad(**change):
        return {**good, **change}

    two_tokens = bad(
        messages=[
            {"role": "user", "content": "<video><video>Q"},
            {"role": "assistant", "content": "A"},
        ]
    )
    with pytest.raises(export.ExportError, match="2 <video> tokens for 1 videos"):
        export.LlamaFactoryFormat.validate(two_tokens, dest)
    with pytest.raises(export.ExportError, match="0 <video> tokens for 1 videos"):
        export.LlamaFactoryFormat.validate(
            bad(messages=[{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]),
            dest,
        )
    with pytest.raises(export.ExportError, match="<image> tokens for 0 images"):
        export.LlamaFactoryFormat.validate(
            bad(
                messages=[
                    {"role": "user", "content": "<video><image>Q"},
                    {"role": "assistant", "content": "A"},
                ]
            ),
            dest,
        )
    missing = bad(videos=[[*good["videos"][0], "frames/nowhere/image_00001.jpg"]])
    with pytest.raises(export.ExportError, match="does not exist"):
        export.LlamaFactoryFormat.validate(missing, dest)
    with pytest.raises(export.ExportError, match="alternate"):
        export.LlamaFactoryFormat.validate(bad(messages=good["messages"][:1]), dest)

    assert run("llava", output, str(dest)) == 0
    rec = load(dest / "demo.json")[0]
    export.LlavaFormat.validate(rec, dest)
    with pytest.raises(export.ExportError, match="does not exist"):
        export.LlavaFormat.validate({**rec, "video": "frames/nowhere"}, dest)
    doubled = [{**t, "value": t["value"] + " <image>"} for t in rec["conversations"]]
    with pytest.raises(export.ExportError, match="3 <image> tokens for 1 video"):
        export.LlavaFormat.validate({**rec, "conversations": doubled}, dest)

    assert run("frames", output, str(dest)) == 0
    entry = json.loads((dest / "demo_index.jsonl").read_text().splitlines()[0])
    export.FramesFormat.validate(entry, dest)
    with pytest.raises(export.ExportError, match="expected"):
        export.FramesFormat.validate(
            {
                **entry,
                "num_frames": entry["num_frames"] + 1,
                "frame_timestamps": [*entry["frame_timestamps"], 99.0],
            },
            dest,
        )
    os.remove(dest / entry["folder"] / "image_00001.jpg")
    with pytest.raises(export.ExportError, match="expected"):
        export.FramesFormat.validate(entry, dest)


def test_export_validates_before_finishing(output, tmp_path, capsys, monkeypatch):
    """A record that would not load stops the export with exit 2 and leaves no file."""
    original = export.LlamaFactoryFormat.record

    def broken(row, paths):
        record = original(row, paths)
        if row["id"] == "demo:c:0":
            record["videos"].append(paths)  # two videos, one <video> token
        return record

    monkeypatch.setattr(export.LlamaFactoryFormat, "record", staticmethod(broken))
    dest = tmp_path / "lf"
    assert run("llamafactory", output, str(dest)) == 2
    err = capsys.readouterr().err
    assert err.startswith("vidray: error: demo.json record") and "1 <video> tokens for 2" in err
    assert not (dest / "demo.json").exists() and not (dest / "dataset_info.json").exists()
    assert not [n for n in os.listdir(dest) if n.endswith(".json") or ".tmp-" in n]


def test_rows_of_one_clip_with_different_frames_are_refused(tmp_path, capsys):
    other = make_row("demo:b:2", "b.mp4", (1.0, 3.0), [("Q", "A")], [2, 3])
    output = write_output(tmp_path / "out", [[ROWS[1], other]])
    assert run("frames", output, str(tmp_path / "d")) == 2
    assert "shares video and clip" in capsys.readouterr().err
