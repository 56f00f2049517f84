"""Sources read their native layout; bad inputs become error samples, never crashes."""

import json
import tarfile

import pytest

from tests.conftest import add_tar_member as add
from vidray import prompts, synth
from vidray.io import storage
from vidray.sources import SourceContext, UnknownSource, get


def test_webvid_pairs_members_and_records_every_problem(tmp_path):
    video = synth.encode_mp4(synth.VideoSpec(num_frames=5))
    meta = json.dumps(synth.webvid_json("1", 0, synth.VideoSpec())).encode()
    with tarfile.open(tmp_path / "00000000.tar", "w") as tar:
        add(tar, "1.mp4", video)
        add(tar, "1.json", meta)
        add(tar, "2.json", meta)  # annotation without video
        add(tar, "3.mp4", video)  # video without annotation
        add(tar, "4.mp4", video)
        add(tar, "4.json", b"{not json")
        add(tar, "5.mp4", video)
        add(tar, "5.json", json.dumps({"text": "   "}).encode())
        add(tar, "6.mp4", b"", tarfile.SYMTYPE)
        add(tar, "6.json", meta)
        add(tar, "7.json", meta)  # out of order: json first, mp4 later
        add(tar, "other.txt", b"ignored")
        add(tar, "7.mp4", video)
    src = get("webvid")
    samples = {s.id: s for s in src.samples(storage.location(str(tmp_path)), "00000000.tar")}
    reasons = {sid.split("#")[1]: (s.error[0] if s.error else "ok") for sid, s in samples.items()}
    assert reasons == {
        "1.mp4": "ok",
        "2.mp4": "missing_video",
        "3.mp4": "missing_annotation",
        "4.mp4": "bad_annotation",
        "5.mp4": "bad_annotation",
        "6.mp4": "bad_member",
        "7.mp4": "ok",
        "other.mp4": "bad_member",
    }
    ok = samples["webvid:00000000.tar#1.mp4"]
    (conv,) = ok.conversations
    assert conv.id == "webvid:00000000.tar#1.mp4"
    assert conv.turns[0][0] == "human" and conv.turns[0][1].startswith("<image>\n")
    assert conv.turns[1] == ("gpt", synth.CAPTIONS[0].strip())
    assert conv.query in prompts.BUILTIN_PROMPTS
    assert conv.turns[0][1] == "<image>\n" + conv.query


def test_instruction_draw_depends_on_id_and_seed_only():
    pool = tuple(f"p{i}" for i in range(50))
    ids = [f"webvid:0.tar#{i}.mp4" for i in range(200)]
    a = [prompts.draw(pool, i, 7) for i in ids]
    assert a == [prompts.draw(pool, i, 7) for i in reversed(ids)][::-1]
    assert a != [prompts.draw(pool, i, 8) for i in ids]
    assert len(set(a)) > 25  # spread over the pool


def test_prompt_files(tmp_path):
    items = [{"video": "x.mp4", "QA": [{"i": " Describe it. ", "q": "", "a": "cap"}]}]
    (tmp_path / "filtered_train.json").write_text(json.dumps(items * 2))
    (tmp_path / "pool.txt").write_text("one\n\n two \n")
    assert prompts.load_prompts(str(tmp_path / "filtered_train.json")) == (
        "Describe it.",
        "Describe it.",
    )
    assert prompts.load_prompts(str(tmp_path / "pool.txt")) == ("one", "two")
    (tmp_path / "bad.json").write_text(json.dumps([{"QA": []}]))
    with pytest.raises(prompts.PromptError):
        prompts.load_prompts(str(tmp_path / "bad.json"))


def test_finevideo_one_conversation_per_qa(finevideo_dir):
    src = get("finevideo", SourceContext.of(seed=3))
    loc = storage.location(str(finevideo_dir))
    units = src.units(loc)
    assert units == ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]
    samples = list(src.samples(loc, units[1]))
    assert [s.video for s in samples] == [f"{units[1]}#{i}" for i in range(3)]
    convs = samples[0].conversations
    assert [c.id for c in convs] == [f"finevideo:{units[1]}#0:{k}" for k in range(3)]
    assert convs[2].turns == (
        ("human", "<image>\nQuestion 2 about video 3?"),
        ("gpt", "Answer 2."),
    )
    assert src.count(loc, units[0], 10) == 3 and src.count(loc, units[0], 2) == 2


def test_unknown_source():
    with pytest.raises(UnknownSource, match=r"unknown source 'nope'; known: .*finevideo, .*webvid"):
        get("nope")
