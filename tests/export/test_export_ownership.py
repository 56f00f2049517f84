"""Exports never overwrite each other: two conversions exported into one DEST keep
their own frames, a record file (or ``dataset_info.json`` entry) another OUTPUT wrote is
refused without ``--overwrite``, the read-back check compares every referenced file
with its row's frames, and a ``llava`` export passes stock LLaVA-NeXT's loader (its
frame-folder logic replayed from ``llava/train/train.py``).

OUTPUTs are written through the sink as a conversion writes them (``begin`` records
the command's fingerprint, ``write_unit``, ``commit``), with real JPEG frames that carry
their frame index; one test converts the session's WebVid shards on Ray twice.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.export.test_export import load, run
from tests.export.test_export_images import image_row
from tests.helpers.datasets import image_bytes
from tests.output import write_unit
from vidray import export, synth
from vidray import output as vout
from vidray.export import files as export_files
from vidray.io import storage

SOURCE = "demo"
#: Two conversions of one dataset: ``--size`` and ``--num-frames`` differ.
BIG = synth.VideoSpec(width=80, height=48)
SMALL = synth.VideoSpec(width=64, height=36)
FORMATS = ["llamafactory", "llava", "frames", "clip"]


def jpeg_at(index: int, spec: synth.VideoSpec) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(synth.frame_image(index, spec)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def video_row(rid: str, video: str, clip, question: str, frames: list[int], spec) -> dict:
    return {
        "id": rid,
        "source": SOURCE,
        "video": video,
        "clip_start": clip[0] if clip else None,
        "clip_end": clip[1] if clip else None,
        "conversations": [
            {"from": "human", "value": "<image>\n" + question},
            {"from": "gpt", "value": f"answer to {question}"},
        ],
        "query": question,
        "frames": [jpeg_at(i, spec) for i in frames],
        "frame_timestamps": [i / 2 for i in frames],
        "width": spec.width,
        "height": spec.height,
        "video_duration": 20.0,
        "video_fps": 10.0,
        "label": None,
        "classname": None,
    }


def video_rows(num_frames: int, spec: synth.VideoSpec) -> list[dict]:
    """The same three questions on two clips, sampled with ``num_frames`` at ``spec``
    (frames stored out of time order, as a merged multi-span pass can store them)."""
    frames = [2 * k for k in range(num_frames)][::-1]
    return [
        video_row("demo:v:0", "v.mp4", (0.0, 8.0), "Who enters?", frames, spec),
        video_row("demo:v:1", "v.mp4", (0.0, 8.0), "Who leaves?", frames, spec),
        video_row("demo:w", "w.mp4", None, "What is shown?", frames[1:], spec),
    ]


def image_rows(size: tuple[int, int]) -> list[dict]:
    """Two classified images, at the size a conversion's ``--size`` gave them."""
    w, h = size
    rows = []
    for k, (cls, color) in enumerate((("cat", (200, 40, 40)), ("dog", (40, 190, 60)))):
        row = image_row(f"demo:{cls}.jpg", f"{cls}.jpg", "What is in this photo?",
                        f"a photo of a {cls}.", [color], k, cls, source=SOURCE)  # fmt: skip
        rows.append({**row, "frames": [image_bytes(w, h, color)], "width": w, "height": h})
    return rows


def convert_like(root: Path, options: dict, rows: list[dict], *, overwrite: bool = False) -> str:
    """An OUTPUT as ``vidray convert`` with ``options`` leaves it."""
    out = storage.location(str(root))
    vout.begin(out, options, overwrite=overwrite)
    result = write_unit(out, "u-00000", len(rows), rows, [])
    vout.commit(out, [result], {"source": SOURCE, "options": options})
    return str(root)


def rows_for(fmt: str, variant: str) -> list[dict]:
    if fmt == "clip":
        return image_rows((48, 32) if variant == "a" else (24, 16))
    return video_rows(8, BIG) if variant == "a" else video_rows(3, SMALL)


def two_outputs(tmp_path: Path, fmt: str) -> tuple[str, list[dict], str, list[dict]]:
    rows_a, rows_b = rows_for(fmt, "a"), rows_for(fmt, "b")
    a = convert_like(tmp_path / "out-a", {"num_frames": 8, "size": 48}, rows_a)
    b = convert_like(tmp_path / "out-b", {"num_frames": 3, "size": 36}, rows_b)
    return a, rows_a, b, rows_b


def ordered(row: dict) -> list[bytes]:
    """A row's frames in the order a trainer must see them: by timestamp."""
    if not row["frame_timestamps"]:
        return list(row["frames"])
    pairs = sorted(zip(row["frame_timestamps"], row["frames"], strict=True))
    return [f for _, f in pairs]


def listed(folder: Path) -> list[bytes]:
    return [(folder / n).read_bytes() for n in sorted(os.listdir(folder))]


def exported_frames(fmt: str, dest: Path, file: str, rows: list[dict]) -> dict[str, list[bytes]]:
    """Row id -> the bytes of the files its exported record refers to, read from disk
    the way each trainer reads them (a folder: its sorted listing)."""
    by_answer = {r["conversations"][1]["value"]: r["id"] for r in rows}
    found: dict[str, list[bytes]] = {}
    # llamafactory records carry no id: they are written in the order the rows are read
    for k, rec in enumerate(export.iter_records(dest / file)):
        if fmt == "llamafactory":
            row = rows[k]
            assert rec["messages"][0]["content"] == "<video>" + row["query"]
            found[row["id"]] = [(dest / p).read_bytes() for p in rec["videos"][0]]
        elif fmt == "llava":
            found[rec["id"]] = listed(dest / rec["video"])
        elif fmt == "frames":
            for rid in rec["ids"]:
                found[rid] = listed(dest / rec["folder"])
        else:
            found[by_answer[rec["text"]]] = [(dest / rec["image"]).read_bytes()]
    return found


def assert_holds(fmt: str, dest: Path, file: str, rows: list[dict]) -> None:
    found = exported_frames(fmt, dest, file, rows)
    assert set(found) == {r["id"] for r in rows}
    for row in rows:
        assert found[row["id"]] == ordered(row), (file, row["id"])


def record_file(fmt: str, name: str) -> str:
    return f"{name}_index.jsonl" if fmt == "frames" else f"{name}.json"


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_conversions_into_one_dest_keep_their_own_frames(tmp_path, fmt):
    """Different --size and --num-frames, exported into one DEST (and the first again
    after the second): every record's files hold its own row's bytes."""
    a, rows_a, b, rows_b = two_outputs(tmp_path, fmt)
    dest = tmp_path / "dest"
    assert run(fmt, a, str(dest), "--name", "a") == 0
    first = (dest / record_file(fmt, "a")).read_bytes()
    assert run(fmt, b, str(dest), "--name", "b") == 0
    assert_holds(fmt, dest, record_file(fmt, "a"), rows_a)
    assert_holds(fmt, dest, record_file(fmt, "b"), rows_b)
    assert run(fmt, a, str(dest), "--name", "a") == 0  # the same OUTPUT again: idempotent
    assert (dest / record_file(fmt, "a")).read_bytes() == first
    assert_holds(fmt, dest, record_file(fmt, "a"), rows_a)
    assert_holds(fmt, dest, record_file(fmt, "b"), rows_b)
    owners = load(dest / export.SIDECAR)["files"]
    assert owners[record_file(fmt, "a")]["output"] == a
    assert owners[record_file(fmt, "b")]["output"] == b


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_name_from_another_output_is_refused(tmp_path, capsys, fmt):
    a, rows_a, b, rows_b = two_outputs(tmp_path, fmt)
    dest = tmp_path / "dest"
    name = record_file(fmt, SOURCE)
    assert run(fmt, a, str(dest)) == 0
    before = {
        p: (dest / p).read_bytes() for p in (name, "dataset_info.json") if (dest / p).exists()
    }
    capsys.readouterr()
    assert run(fmt, b, str(dest)) == 2
    err = capsys.readouterr().err
    assert err.startswith("vidray: error:") and err.count("\n") == 1, err
    assert a in err and "--overwrite" in err
    assert {p: (dest / p).read_bytes() for p in before} == before  # untouched
    assert_holds(fmt, dest, name, rows_a)

    assert run(fmt, b, str(dest), "--overwrite") == 0
    assert_holds(fmt, dest, name, rows_b)
    assert run(fmt, b, str(dest)) == 0  # now B's: B again is fine, A is refused
    assert run(fmt, a, str(dest)) == 2


def test_a_reconversion_into_the_same_path_is_another_output(tmp_path, capsys):
    out = tmp_path / "out"
    convert_like(out, {"num_frames": 8, "size": 48}, video_rows(8, BIG))
    dest = tmp_path / "dest"
    assert run("llava", str(out), str(dest)) == 0
    convert_like(out, {"num_frames": 3, "size": 36}, video_rows(3, SMALL), overwrite=True)
    capsys.readouterr()
    assert run("llava", str(out), str(dest)) == 2
    assert "converted by another command since" in capsys.readouterr().err


def test_one_output_spelled_another_way_is_the_same_output(tmp_path):
    """Through a symlinked parent, or with a trailing slash, OUTPUT is the folder it
    was: re-exporting it is idempotent, not refused as another OUTPUT's."""
    out = tmp_path / "real" / "out"
    out.parent.mkdir()
    convert_like(out, {"num_frames": 8, "size": 48}, video_rows(8, BIG))
    (tmp_path / "link").symlink_to(tmp_path / "real")
    dest = tmp_path / "dest"
    assert run("llava", str(out), str(dest)) == 0
    first = (dest / f"{SOURCE}.json").read_bytes()
    assert run("llava", str(tmp_path / "link" / "out"), str(dest)) == 0
    assert run("llava", f"{out}/", str(dest)) == 0
    assert (dest / f"{SOURCE}.json").read_bytes() == first


def test_a_dataset_info_entry_of_another_output_is_refused_without_its_file(tmp_path, capsys):
    a, _, b, _ = two_outputs(tmp_path, "llamafactory")
    dest = tmp_path / "dest"
    assert run("llamafactory", a, str(dest)) == 0
    os.remove(dest / "demo.json")  # the entry is still A's
    capsys.readouterr()
    assert run("llamafactory", b, str(dest)) == 2
    err = capsys.readouterr().err
    assert "dataset_info.json entry 'demo'" in err and a in err
    assert not (dest / "demo.json").exists()


def test_a_record_file_no_export_recorded_is_refused(tmp_path, capsys):
    a, _, _, _ = two_outputs(tmp_path, "llava")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "demo.json").write_text("[]\n")  # someone's own file
    assert run("llava", a, str(dest)) == 2
    assert "no recorded OUTPUT" in capsys.readouterr().err
    assert (dest / "demo.json").read_text() == "[]\n"


def test_read_back_catches_files_that_are_not_the_rows(tmp_path, capsys, monkeypatch):
    """A folder whose bytes were changed after an export is repaired by the next one;
    and were it trusted as it is, the read-back hash check refuses the export."""
    a, rows_a, _, _ = two_outputs(tmp_path, "llava")
    dest = tmp_path / "dest"
    assert run("llava", a, str(dest)) == 0
    rec = load(dest / "demo.json")[0]
    victim = dest / rec["video"] / "image_00002.jpg"
    victim.write_bytes(jpeg_at(99, SMALL))
    assert run("llava", a, str(dest)) == 0  # the content-named folder is rewritten whole
    assert_holds("llava", dest, "demo.json", rows_a)

    victim.write_bytes(jpeg_at(99, SMALL))
    monkeypatch.setattr(export_files, "_folder_holds", lambda directory, frames: True)
    capsys.readouterr()
    assert run("llava", a, str(dest)) == 2
    err = capsys.readouterr().err
    assert "do not hold the frames of its row" in err and err.startswith("vidray: error:")
    with pytest.raises(export.ExportError, match="do not hold the frames"):
        rows = {r["id"]: r for r in rows_a}
        digest = export.frames_digest(ordered(rows[rec["id"]]))
        files = export.LlavaFormat.referenced_files(rec, dest)
        export.check_record_bytes(files, digest, "record")


# --------------------------------------------------------------------------- LLaVA-NeXT


def llava_next_video(record: dict, video_folder: Path, *, force_sample: bool, upbound: int):
    """The video branch of LLaVA-NeXT's ``LazySupervisedDataset._get_item``
    (LLaVA-VL/LLaVA-NeXT ``llava/train/train.py`` at 45f2d92), its file logic restated:
    the record's ``video`` joined to ``video_folder``; when that path contains
    ``shareVideoGPTV`` it lists the regular files of the folder, sorts the names, takes
    ``frames_upbound`` (``force_sample``) or 10 indices ``np.linspace(0, n - 1, k,
    dtype=int)`` and opens each with PIL as RGB (timing assumed 2 fps); any other path
    goes to ``process_video_with_decord``, which fails on a folder, and the loader
    returns the next sample instead (``None`` here)."""
    video_file = os.path.join(video_folder, record["video"])
    if "shareVideoGPTV" not in video_file:
        return None
    frame_files = sorted(
        os.path.join(video_file, f)
        for f in os.listdir(video_file)
        if os.path.isfile(os.path.join(video_file, f))
    )
    k = upbound if force_sample else 10
    indices = np.linspace(0, len(frame_files) - 1, k, dtype=int)
    frames = []
    for i in indices:
        with Image.open(frame_files[i]) as img:
            frames.append(img.convert("RGB"))
    return frames


def llava_next_text_checks(record: dict) -> None:
    """What the loader does to the text: ``preprocess_multimodal`` moves an ``<image>``
    that does not lead a turn to the front (ours must already lead the first human
    turn, once), and ``modality_lengths`` asserts a non-empty conversation."""
    turns = record["conversations"]
    assert turns[0]["from"] == "human" and turns[0]["value"].startswith("<image>\n")
    assert sum(t["value"].count("<image>") for t in turns) == 1
    assert sum(len(t["value"].split()) for t in turns) > 0


def test_llava_export_passes_llava_next_loader(tmp_path):
    rows = video_rows(8, BIG)
    out = convert_like(tmp_path / "out", {"num_frames": 8}, rows)
    dest = tmp_path / "llava"
    assert run("llava", out, str(dest)) == 0
    by_id = {r["id"]: r for r in rows}
    for rec in load(dest / "demo.json"):
        llava_next_text_checks(rec)
        row = by_id[rec["id"]]
        n = len(row["frames"])
        # video_folder = DEST; frames_upbound = --num-frames with force_sample: each once
        frames = llava_next_video(rec, dest, force_sample=True, upbound=n)
        assert frames is not None, f"LLaVA-NeXT would skip {rec['video']}"
        want = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in ordered(row)]
        assert [np.array_equal(np.asarray(f), w) for f, w in zip(frames, want, strict=True)] == [
            True
        ] * n
        assert [synth.read_index_jpeg(b) for b in ordered(row)] == sorted(
            int(t * 2) for t in row["frame_timestamps"]
        )
        # its default (10 frames from the folder, repeating some) loads as well
        assert len(llava_next_video(rec, dest, force_sample=False, upbound=0)) == 10
    # the layout before this fix (frames/<folder>) would have been skipped by the loader
    old = {**rec, "video": rec["video"].replace(export.LLAVA_VIDEO_DIR, export.FRAMES_DIR)}
    assert llava_next_video(old, dest, force_sample=True, upbound=8) is None


# --------------------------------------------------------------------------- real conversions


def test_two_real_conversions_exported_into_one_dest(ray_head, webvid_dir, tmp_path):
    """WebVid converted on Ray twice (--size 48 --num-frames 4; --size 32 --num-frames 2),
    both exported (llava, llamafactory) into one DEST: each record shows its own rows."""
    from vidray.config import ConvertOptions
    from vidray.media.sampling import SamplingPolicy
    from vidray.pipeline import convert

    outputs = {}
    for name, size, frames in (("a", 48, 4), ("b", 32, 2)):
        out = tmp_path / f"out-{name}"
        policy = SamplingPolicy(num_frames=frames)
        convert(ConvertOptions.of(source="webvid", input=str(webvid_dir), output=str(out),
                               size=size, sampling=policy, limit=3, progress=False))  # fmt: skip
        outputs[name] = (str(out), vout.read_output(str(out)).to_pylist())
    dest = tmp_path / "dest"
    for fmt in ("llava", "llamafactory"):
        for name, (out, _) in outputs.items():
            assert run(fmt, out, str(dest), "--name", f"{fmt}-{name}") == 0
    for fmt in ("llava", "llamafactory"):
        for name, (_, rows) in outputs.items():
            assert rows and {len(r["frames"]) for r in rows} == {4 if name == "a" else 2}
            assert_holds(fmt, dest, f"{fmt}-{name}.json", rows)
    assert json.loads((dest / export.SIDECAR).read_text())["files"].keys() == {
        f"{fmt}-{n}.json" for fmt in ("llava", "llamafactory") for n in "ab"
    }
