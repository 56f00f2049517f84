"""ShareGPTVideo: LLaVA-style conversations over folders of JPEG frames at 2 fps."""

from __future__ import annotations

from tests.helpers.datasets import reasons, rows_of, sharegptvideo, write_jsonl
from tests.helpers.datasets.sharegptvideo import ROOT, A, B, record
from vidray import sources, synth
from vidray.io import storage
from vidray.sources import SourceContext
from vidray.sources import sharegptvideo as module

SOURCE = "sharegptvideo"

PRE = "sharegptvideo:video_caption_pretrain"
QA = "sharegptvideo:chatgpt_qa_900k"


def test_frames_are_the_folder_images_at_two_fps(harness, tmp_path):
    """Frames come from the folder, the one drawn for index i at i / 2 s."""
    sharegptvideo.build(tmp_path / "in")
    rows, _ = harness.convert(tmp_path / "in", tmp_path / "out")
    r = next(r for r in rows if r["id"] == f"{PRE}/{A}")
    assert r["frame_timestamps"] == [0.5, 1.5, 2.5, 3.5]  # 4 of 8 frames over 4 s
    assert [synth.read_index_jpeg(f) for f in r["frames"]] == [1, 3, 5, 7]


def test_multiturn_mode_merges_the_questions_on_one_video(harness, tmp_path):
    sharegptvideo.build(tmp_path)
    found = harness.samples(tmp_path, qa_mode="multiturn")
    merged = {
        s.video: c
        for s in found
        if "chatgpt_qa_900k" in s.id
        for c in s.conversations
        if len(c.turns) > 2
    }
    assert set(merged) == {f"train_300k/{A}", f"train_600k/{B}"}
    assert merged[f"train_300k/{A}"].turns == (
        ("human", "<image>\nWhat is the man holding?"),
        ("gpt", "He is holding a guitar."),
        ("human", "Where is the man?"),
        ("gpt", "He sits on a porch."),
    )
    assert merged[f"train_300k/{A}"].query == "What is the man holding?"
    assert [t[1] for t in merged[f"train_600k/{B}"].turns] == [
        "<image>\nWhat does the show?",
        "The sea.",
        "Is it windy?",
        "Yes, the waves are high.",
    ]
    ids = [c.id for s in found for c in s.conversations]
    assert len(ids) == len(set(ids))
    # one caption per video in the pretrain file: its rows keep their own ids
    assert f"{PRE}/{A}" in ids and f"{QA}/{A}_0" not in ids


def test_split_mode_gives_one_row_per_pair(harness, tmp_path):
    sharegptvideo.build(tmp_path)
    found = rows_of(harness.samples(tmp_path))
    assert found[f"{QA}/{B}_0#0"][1] == (
        ("human", "<image>\nWhat does the show?"),
        ("gpt", "The sea."),
    )
    assert found[f"{QA}/{B}_0#1"][1:] == (
        (("human", "<image>\nIs it windy?"), ("gpt", "Yes, the waves are high.")),
        "Is it windy?",
    )


def test_splits(harness, tmp_path):
    sharegptvideo.build(tmp_path)
    loc = storage.location(str(tmp_path))

    def units(split: str) -> list[str]:
        return sources.get("sharegptvideo", SourceContext.of(split=split)).units(loc)

    pretrain = [f"{ROOT}/pretrain/video_caption_pretrain.jsonl"]
    qa = [f"{ROOT}/qa/chatgpt_qa_900k.jsonl"]
    assert units("pretrain") == pretrain
    assert units("qa") == qa
    assert units("sft") == [f"{ROOT}/sft/video_240k_caption_15k.jsonl"]  # no image_*.jsonl
    assert units("train") == pretrain + qa
    sft = rows_of(harness.samples(tmp_path, split="sft"))
    assert list(sft) == [f"sharegptvideo:video_240k_caption_15k/{A}_0"]


def test_ids_are_stable_and_unique_across_files(harness, tmp_path):
    """The SFT mixture repeats a QA record with its id: the file stem keeps the ids
    apart, and a second run gives the same ids."""
    sharegptvideo.build(tmp_path)
    ids = [
        c.id
        for split in ("pretrain", "qa", "sft")
        for s in harness.samples(tmp_path, split=split)
        for c in s.conversations
    ]
    assert len(ids) == len(set(ids))
    assert ids == [
        c.id
        for split in ("pretrain", "qa", "sft")
        for s in harness.samples(tmp_path, split=split)
        for c in s.conversations
    ]


def test_a_record_without_id_is_kept_under_its_line(harness, tmp_path):
    sharegptvideo.build(tmp_path)
    write_jsonl(
        tmp_path / ROOT / "qa" / "chatgpt_qa_900k.jsonl",
        [{k: v for k, v in record("x", A, "<video>\nWhy?", "Because.").items() if k != "id"}],
    )
    assert list(rows_of(harness.samples(tmp_path, split="qa"))) == [f"{QA}#0"]


def test_frame_folders_are_listed_once_and_300k_wins(harness, tmp_path, monkeypatch):
    sharegptvideo.build(tmp_path)
    sharegptvideo.write_frames(tmp_path / "train_600k" / A, 3, seed=5)  # also in 600k
    calls = []
    real = module._index_folders

    def counting(videos):
        calls.append(videos)
        return real(videos)

    monkeypatch.setattr(module, "_index_folders", counting)
    found = rows_of(harness.samples(tmp_path))
    assert len(calls) == 1
    assert found[f"{PRE}/{A}"][0] == f"train_300k/{A}"


def test_videos_option_names_the_parent_of_the_frame_roots(harness, tmp_path):
    sharegptvideo.build(tmp_path / "frames")
    (tmp_path / "frames" / ROOT).rename(tmp_path / "ann")
    (tmp_path / "input" / "video_instruction").mkdir(parents=True)
    (tmp_path / "ann").rename(tmp_path / "input" / ROOT)
    found = rows_of(harness.samples(tmp_path / "input", videos=str(tmp_path / "frames")))
    assert found[f"{PRE}/{B}"][0] == f"train_600k/{B}"


def test_flat_frame_folder_of_the_setup_scripts(harness, tmp_path):
    """LLaVA-Hound-DPO's setup scripts extract every chunk into one
    ``video_data/train/<id>/`` and train on that folder: with ``--videos`` naming it,
    every folder is found (none becomes missing_video) and its frames are read."""
    sharegptvideo.build(tmp_path)
    sharegptvideo.flatten(tmp_path, tmp_path / "video_data" / "train")
    assert not (tmp_path / "train_300k").exists()
    found = harness.samples(tmp_path, videos=str(tmp_path / "video_data" / "train"))
    missing = sorted(s.video for s in found if s.error and s.error[0] == "missing_video")
    assert missing == ["v_notThere01"]
    rows = rows_of(found)
    assert rows[f"{PRE}/{A}"][0] == A and rows[f"{QA}/{B}_0#0"][0] == B
    converted, errors = harness.convert(
        tmp_path, tmp_path / "out", videos="video_data/train", split="pretrain"
    )
    r = next(r for r in converted if r["id"] == f"{PRE}/{A}")
    assert r["video"] == A
    assert [synth.read_index_jpeg(f) for f in r["frames"]] == [1, 3, 5, 7]
    assert reasons(errors)[f"{PRE}/{sharegptvideo.EMPTY}"] == ("missing_video")
