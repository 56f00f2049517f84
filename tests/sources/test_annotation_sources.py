"""The machinery every annotation source shares: splits, record reading, grouping per
video and span, the multi-turn mode, video lookup by stem, multiple-choice rendering,
spans in frames and the duration filter."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.helpers.datasets import convert_in_process, mp4, write_json, write_jsonl, write_video
from tests.media import one_clip
from vidray import cli
from vidray.config import ConvertOptions
from vidray.io import storage
from vidray.media import decode
from vidray.media.sampling import SamplingPolicy
from vidray.sources import text
from vidray.sources.annotations import AnnotationSource, Item
from vidray.sources.base import BadAnnotation, BadSplit, SourceContext
from vidray.sources.text import render_choice


class Toy(AnnotationSource):
    """Records {q, a, v, start?, end?}; v is a video name without extension."""

    name = "toy"
    layout = "toy"
    annotation_files: ClassVar = {"train": ("ann/train*.json*",), "val": ("ann/val.json",)}
    find_videos_by_stem = True

    def items(self, unit: str, key: str, record: Any) -> Iterable[Item]:
        span = None
        if "start" in record:
            span = (text.require_number(record, "start"), text.require_number(record, "end"))
        q, a = text.require(record, "q"), text.require(record, "a")
        yield Item.single(f"{unit}:{key}", text.require(record, "v"), q, a, span=span)


class ToyConsecutive(Toy):
    group_consecutive = True


def toy_tree(root: Path) -> storage.Location:
    write_json(
        root / "ann" / "train.json",
        [
            {"q": "q0", "a": "a0", "v": "x"},
            {"q": "q1", "a": "a1", "v": "y"},
            {"q": "q2", "a": "a2", "v": "x"},  # same video as q0, not adjacent
            {"q": "q3", "a": "a3", "v": "x", "start": 1, "end": 2},  # same video, a span
            {"q": "", "a": "a4", "v": "x"},  # malformed
            {"q": "q5", "a": "a5", "v": "nowhere"},
        ],
    )
    write_jsonl(root / "ann" / "train_more.jsonl", [{"q": "q6", "a": "a6", "v": "y"}], ("{oops",))
    write_json(root / "ann" / "val.json", [{"q": "v0", "a": "b0", "v": "y"}])
    (root / "videos").mkdir()
    (root / "videos" / "x.mkv").write_bytes(b"not read here")
    (root / "videos" / "sub").mkdir()
    (root / "videos" / "sub" / "y.webm").write_bytes(b"not read here")
    return storage.location(str(root))


def test_units_follow_the_split_and_unknown_splits_are_named(tmp_path):
    loc = toy_tree(tmp_path)
    assert Toy().units(loc) == ["ann/train.json", "ann/train_more.jsonl"]
    assert Toy(SourceContext.of(split="val")).units(loc) == ["ann/val.json"]
    with pytest.raises(BadSplit, match="toy has no split 'test'; its splits: train, val"):
        Toy(SourceContext.of(split="test")).units(loc)


def test_questions_on_one_video_and_span_are_one_sample(tmp_path):
    loc = toy_tree(tmp_path)
    samples = list(Toy().samples(loc, "ann/train.json"))
    summary = [(s.video, s.clip, [c.id for c in s.conversations], s.error) for s in samples]
    assert summary == [
        ("x.mkv", (None, None), ["toy:ann/train.json:0", "toy:ann/train.json:2"], None),
        ("sub/y.webm", (None, None), ["toy:ann/train.json:1"], None),
        ("x.mkv", (1.0, 2.0), ["toy:ann/train.json:3"], None),
        (
            "ann/train.json#4",
            (None, None),
            [],
            ("bad_annotation", "'q' is missing, empty or not a str"),
        ),
        # one error row per question of a missing video, each keeping its id
        ("nowhere", (None, None), ["toy:ann/train.json:5"], ("missing_video", summary[4][3][1])),
    ]
    assert "no video named 'nowhere'" in summary[4][3][1]
    assert [s.id for s in samples][:3] == [
        "toy:ann/train.json#x.mkv",
        "toy:ann/train.json#sub/y.webm",
        "toy:ann/train.json#x.mkv@1-2",
    ]
    first = samples[0].conversations[0]
    assert first.turns == (("human", "<image>\nq0"), ("gpt", "a0")) and first.query == "q0"


def test_consecutive_grouping_for_huge_line_files(tmp_path):
    loc = toy_tree(tmp_path)
    videos = [s.video for s in ToyConsecutive().samples(loc, "ann/train.json") if not s.error]
    assert videos == ["x.mkv", "sub/y.webm", "x.mkv", "x.mkv"]


def test_multiturn_mode_merges_the_questions_of_a_sample(tmp_path):
    loc = toy_tree(tmp_path)
    samples = list(Toy(SourceContext.of(qa_mode="multiturn")).samples(loc, "ann/train.json"))
    [conv] = samples[0].conversations
    # named after its annotation file and video: unique even when files share videos
    assert conv.id == "toy:ann/train.json#x.mkv"
    assert conv.turns == (("human", "<image>\nq0"), ("gpt", "a0"), ("human", "q2"), ("gpt", "a2"))
    assert conv.query == "q0"
    # a single question stays a row with its own id
    assert [c.id for c in samples[1].conversations] == ["toy:ann/train.json:1"]


def test_bad_lines_are_rows_and_videos_are_found_by_one_listing(tmp_path, monkeypatch):
    loc = toy_tree(tmp_path)
    calls = []
    real = storage.list_files
    monkeypatch.setattr(storage, "list_files", lambda *a, **k: calls.append(a) or real(*a, **k))
    source = Toy()
    samples = [*source.samples(loc, "ann/train.json"), *source.samples(loc, "ann/train_more.jsonl")]
    assert len(calls) == 1  # one listing of the videos root for every record
    errors = {s.id: s.error[0] for s in samples if s.error}
    assert errors["toy:ann/train_more.jsonl#1"] == "bad_annotation"
    assert [s.video for s in samples if not s.error][-1] == "sub/y.webm"


def test_multiple_choice_rendering():
    prompt, answer = render_choice(
        "{question}\n{options}", "What moved?", ["the cup", " the  box "], [1]
    )
    assert prompt == "What moved?\nA. the cup\nB. the box"
    assert answer == "B. the box"
    _, several = render_choice("{question} {options}", "q", ["a", "b", "c"], [2, 0])
    assert several == "A. a\nC. c"
    for options, correct in (([], [0]), (["a"], []), (["a"], [1]), (["a", ""], [0])):
        with pytest.raises(BadAnnotation):
            render_choice("{question} {options}", "q", options, correct)
    assert text.option_index(["The cup.", "The Book."], " the book. ") == 1
    with pytest.raises(BadAnnotation, match="none of the 2 options"):
        text.option_index(["a", "b"], "c")


@pytest.mark.parametrize(
    "template, problem",
    [("{question}", "must contain {options}"), ("{question} {options} {x}", "only")],
)
def test_bad_mc_templates_are_refused(template, problem):
    with pytest.raises(ValueError, match=problem):
        ConvertOptions.of(source="star", input="i", output="o", mc_template=template)


def test_spans_in_frames_and_the_duration_filter():
    data = mp4(4.0, 10)
    policy = SamplingPolicy(num_frames=4)
    info, times, jpegs, _ = one_clip(
        data, policy=policy, clip=(10, 30), clip_unit="frame", size=None, quality=80
    )
    assert info.fps == 10 and len(jpegs) == 4
    assert all(1.0 <= t < 3.0 for t in times)
    with pytest.raises(decode.DecodeFailure) as e:
        one_clip(data, policy=policy, clip=(0, 50), clip_unit="frame", size=None, quality=80)
    assert e.value.reason == "bad_span"
    for bounds in ((5.0, None), (None, 3.0)):
        with pytest.raises(decode.DecodeFailure) as e:
            one_clip(
                data, policy=policy, clip=(None, None), size=None, quality=80, duration_range=bounds
            )
        assert e.value.reason == "filtered_duration"
    kept = one_clip(
        data, policy=policy, clip=(None, None), size=None, quality=80, duration_range=(3.9, 4.1)
    )
    assert len(kept[2]) == 4


def test_min_duration_is_recorded_per_question(tmp_path):
    from tests.helpers.datasets import star

    root = tmp_path / "star"
    star.build(root)
    rows, errors = convert_in_process("star", root, tmp_path / "out", min_duration=5.0)
    # 6H78U is 6 s long, ZS9XR 4 s: the latter's questions are filtered, with their ids
    assert {r["id"] for r in rows} == {"star:Interaction_T1_13", "star:Interaction_T1_14"}
    reasons = {e["id"]: e["reason"] for e in errors}
    assert reasons["star:Sequence_T2_7"] == "filtered_duration"
    assert reasons["star:Sequence_T2_8"] == "filtered_duration"


def test_custom_template_reaches_the_rows(tmp_path):
    from tests.helpers.datasets import star

    root = tmp_path / "star"
    star.build(root)
    rows, _ = convert_in_process(
        "star", root, tmp_path / "out", mc_template="Q: {question}\nChoices:\n{options}"
    )
    row = next(r for r in rows if r["id"] == "star:Interaction_T1_13")
    assert row["conversations"][0]["value"] == (
        "<image>\nQ: Which object was taken by the person?\nChoices:\n"
        "A. The cup.\nB. The blanket.\nC. The book.\nD. The phone."
    )


def test_cli_names_the_splits_of_a_source(tmp_path, capsys):
    write_json(tmp_path / "STAR_train.json", [])
    write_video(tmp_path / "videos" / "a.mp4")
    code = cli.main(["convert", "star", str(tmp_path), str(tmp_path / "out"), "--split", "test"])
    assert code == 2
    assert "star has no split 'test'; its splits: train, val" in capsys.readouterr().err


def test_inputs_that_would_share_output_names_are_refused():
    from vidray.plan import ConvertError, check_unit_names

    check_unit_names(["a/train.json", "a/val.json", "b/train.json"])
    with pytest.raises(ConvertError, match=r"a/train.json and a/train.jsonl would name"):
        check_unit_names(["a/train.json", "a/train.jsonl"])


def test_dataset_options_are_refused_where_they_cannot_apply(tmp_path, capsys):
    (tmp_path / "x.tar").write_bytes(b"")
    code = cli.main(["convert", "webvid", str(tmp_path), str(tmp_path / "o"), "--split", "val"])
    assert code == 2
    assert "--videos and --split do not apply" in capsys.readouterr().err


def test_required_fields():
    assert text.require({"q": "  why?  "}, "q") == "why?"
    for record in ({"q": "   "}, {"q": ""}, {}, {"q": 3}, ["q"]):
        with pytest.raises(BadAnnotation):
            text.require(record, "q")
    assert text.require({"c": ["a"]}, "c", list) == ["a"]
    with pytest.raises(BadAnnotation):
        text.require({"c": []}, "c", list)
    assert text.require_number({"t": "1.5"}, "t") == 1.5
    for value in ("nan", "inf", True, None, "x"):
        with pytest.raises(BadAnnotation):
            text.require_number({"t": value}, "t")


def test_a_missing_videos_folder_stops_the_run_before_it_starts(tmp_path, capsys):
    from tests.helpers.datasets import star

    star.build(tmp_path / "star")
    args = ["convert", "star", str(tmp_path / "star"), str(tmp_path / "out")]
    assert cli.main([*args, "--videos", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert f"no videos at {tmp_path / 'nowhere'}" in err and "give --videos" in err
    assert not (tmp_path / "out").exists()


def test_every_question_on_one_video_is_decoded_in_one_pass(tmp_path, monkeypatch):
    from tests.helpers.datasets import star

    log = tmp_path / "decodes.log"
    monkeypatch.setenv("VIDRAY_TEST_DECODE_LOG", str(log))
    root = tmp_path / "star"
    star.build(root)
    rows, errors = convert_in_process(
        "star", root, tmp_path / "out", decoder_module="tests.helpers.counting_child"
    )
    requests = log.read_text().splitlines()
    # Videos travel by reference: the decoder process opens each one itself.
    assert {r.split()[0] for r in requests} == {"ref"}
    # Two videos are found: one with two questions on one span, one with a question on
    # (0.5, 2.5) and one on a span that runs past its end (bad_span). One pass each,
    # the second asked for both spans; the missing video is found missing when the
    # decoder opens it, and is never decoded.
    decodes = [r for r in requests if r.split()[1] != "missing"]
    assert len(rows) == 3
    assert sorted(d.split(" ", 2)[2] for d in decodes) == ["(0.5, 2.5) (3.0, 9.0)", "(1.2, 3.8)"]
    assert len({d.split()[1] for d in decodes}) == 2
    assert len(requests) == 3
    # The failing span costs its own question only.
    assert {e["id"]: e["reason"] for e in errors}["star:Sequence_T2_8"] == "bad_span"


def test_media_tokens_are_stripped_wherever_they_sit():
    strip = text.strip_media_tokens
    assert strip("<video>\nDescribe the video.") == "Describe the video."
    assert strip("Describe the video.\n<video>") == "Describe the video."
    assert strip("What does the <video> show?") == "What does the show?"
    assert strip("<image>\n<video>\nLine one\nline two") == "Line one\nline two"


def test_dialogue_pairs():
    def turn(role: str, value: Any) -> dict:
        return {"from": role, "value": value}

    turns = [
        turn("human", "<video>\nq1"),
        turn("gpt", "a1"),
        turn("human", "q2 "),
        turn("gpt", "a2"),
    ]
    assert text.dialogue_pairs(turns) == [("q1", "a1"), ("q2", "a2")]
    for bad in (
        None,
        [],
        turns[:3],  # odd
        [turns[1], turns[0]],  # gpt first
        [turn("human", "<video>"), turn("gpt", "a")],  # only a media token
        [turn("human", "q"), turn("gpt", 3)],
        ["q", "a"],
    ):
        with pytest.raises(BadAnnotation):
            text.dialogue_pairs(bad)


def test_video_suffixes_match_in_any_case(tmp_path):
    loc = toy_tree(tmp_path)
    (tmp_path / "videos" / "x.mkv").rename(tmp_path / "videos" / "x.MKV")
    samples = list(Toy().samples(loc, "ann/train.json"))
    assert samples[0].video == "x.MKV" and samples[0].error is None


def test_span_ids_keep_milliseconds_of_long_videos(tmp_path):
    write_json(
        tmp_path / "ann" / "train.json",
        [
            {"q": "q0", "a": "a0", "v": "x", "start": 1234.561, "end": 1240},
            {"q": "q1", "a": "a1", "v": "x", "start": 1234.564, "end": 1240},
        ],
    )
    write_video(tmp_path / "videos" / "x.mp4")
    ids = [s.id for s in Toy().samples(storage.location(str(tmp_path)), "ann/train.json")]
    assert ids == [
        "toy:ann/train.json#x.mp4@1234.561-1240",
        "toy:ann/train.json#x.mp4@1234.564-1240",
    ]


def test_retry_redoes_the_samples_of_the_failed_question_ids(tmp_path, monkeypatch):
    """``--retry-failed`` names error rows, whose ids are question ids: the sample
    carrying a listed question is decoded again, and no other."""
    from tests.helpers.datasets import star
    from vidray import output as vout
    from vidray.plan import build_source
    from vidray.read import read_units
    from vidray.stage import ConvertStage, StageConfig

    log = tmp_path / "decodes.log"
    monkeypatch.setenv("VIDRAY_TEST_DECODE_LOG", str(log))
    root, out = tmp_path / "star", tmp_path / "out"
    star.build(root)
    opts = ConvertOptions.of(
        source="star",
        input=str(root),
        output=str(out),
        sampling=SamplingPolicy(num_frames=2),
        size=32,
        samples_per_file=3,
        decoder_module="tests.helpers.counting_child",
    )
    source = build_source(opts)
    stage = ConvertStage(StageConfig.from_options(opts, str(out), source, str(root)))
    try:
        for block in read_units("star", source.ctx, str(root), "STAR_train.json", None, 3):
            stage(block)
        before = vout.read_unit_rows(storage.location(str(out)), "STAR_train-00000")
        log.unlink()
        retry = {0: ("star:Sequence_T2_8",)}  # its error row (bad_span) names it
        for block in read_units(
            "star", source.ctx, str(root), "STAR_train.json", None, 3, frozenset({1}), retry
        ):
            stage(block)
    finally:
        stage.decoder.close()
    assert [line.split(" ", 2)[2] for line in log.read_text().splitlines()] == ["(3.0, 9.0)"]
    after = vout.read_unit_rows(storage.location(str(out)), "STAR_train-00000")
    assert [r.id for r in after] == [r.id for r in before]
    # retrying a sample that had succeeded replaces its row instead of adding one
    retry = {0: ("star:Sequence_T2_7",)}
    try:
        for block in read_units(
            "star", source.ctx, str(root), "STAR_train.json", None, 3, frozenset({1}), retry
        ):
            stage(block)
    finally:
        stage.decoder.close()
    again = vout.read_unit_rows(storage.location(str(out)), "STAR_train-00000")
    assert [r.id for r in again] == [r.id for r in before]
