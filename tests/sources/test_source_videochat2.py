"""VideoChat2-IT: every video subset file is parsed, questions come from ``QA``, captions
have no question; GIFs decode; multi-turn and stable ids."""

from __future__ import annotations

import pytest

from tests.helpers.datasets import turn_values, videochat2, write_json
from vidray.io import storage
from vidray.sources import SourceContext, get
from vidray.sources.base import BadSplit

SOURCE = "videochat2"

TGIF = "videochat2:video/vqa/tgif_frame_qa/train.json"
CHAT = "videochat2:video/conversation/videochat1/train.json"


def test_every_video_subset_file_is_opened_and_parsed(harness, root):
    """Seed bug: ``json.load(path_string)`` never read a file. Every video subset file
    found under ``video/`` is read by its content; ``image/`` sets are not."""
    src = get("videochat2")
    assert src.units(storage.location(str(root))) == [
        "video/caption/webvid/train.json",
        "video/caption/youcook2/train.json",
        "video/conversation/videochat1/train.json",
        "video/vqa/tgif_frame_qa/train.json",
    ]
    convs = harness.conversations(root)
    assert convs[f"{TGIF}#0:0"].turns[1] == ("gpt", "jumping")
    assert not any("image/" in k for k in convs)


def test_question_and_answer_come_from_qa(harness, tmp_path):
    """Seed bug: ``q``/``a`` were read at the top level of the record, not in ``QA``."""
    write_json(
        tmp_path / "video/vqa/webvid_qa/train.json",
        [
            {
                "video": "1.mp4",
                "q": "top-level q",
                "a": "top-level a",
                "QA": [{"i": "Answer briefly.", "q": "What falls?", "a": "snow"}],
            }
        ],
    )
    conv = harness.conversations(tmp_path)["videochat2:video/vqa/webvid_qa/train.json#0:0"]
    assert conv.turns == (("human", "<image>\nAnswer briefly.\nWhat falls?"), ("gpt", "snow"))
    assert conv.query == "What falls?"


def test_caption_has_the_instruction_alone(harness, root):
    conv = harness.conversations(root)["videochat2:video/caption/webvid/train.json#0:0"]
    assert conv.turns == (
        ("human", f"<image>\n{videochat2.CAPTION_I}"),
        ("gpt", "Aerial view of a river in autumn."),
    )
    assert conv.query == videochat2.CAPTION_I


def test_media_tokens_are_removed(harness, root):
    conv = harness.conversations(root)[f"{TGIF}#1:0"]
    assert conv.turns[0][1] == f"<image>\n{videochat2.TGIF_I}\nWhat color is it?"
    assert conv.query == "What color is it?"


def test_multiturn_rebuilds_the_dialogue(harness, root, tmp_path):
    by_id = harness.rows_by_id(root, tmp_path / "out", qa_mode="multiturn")
    chat = turn_values(by_id[f"{CHAT}#1019435.mp4"])
    # the record's instruction leads its first turn only
    assert chat == [
        f"<image>\n{videochat2.CHAT_I}\nWhat is the man doing?",
        "He is surfing.",
        "Does he fall?",
        "Yes, at the end.",
    ]
    # two records on one GIF: one row, each record's instruction with its question
    gif = turn_values(by_id[f"{TGIF}#{videochat2.TGIF}"])
    assert gif == [
        f"<image>\n{videochat2.TGIF_I}\nWhat is the cat doing?",
        "jumping",
        f"{videochat2.TGIF_I}\nWhat color is it?",
        "white",
    ]
    assert by_id[f"{TGIF}#{videochat2.TGIF}"]["frames"]


def test_only_a_train_split(root):
    assert get("videochat2").split() == "train"
    with pytest.raises(BadSplit):
        get("videochat2", SourceContext.of(split="val")).units(storage.location(str(root)))


def test_ids_are_stable(harness, fixture):
    root, expected = fixture
    first = harness.conversations(root)
    assert first == harness.conversations(root)
    assert set(first) == expected.rows | {
        f"{TGIF}#2:0",  # missing video and bad span: known only when decoding
        "videochat2:video/caption/youcook2/train.json#1:0",
    }


def test_only_the_data_cards_instruction_files_are_read(root):
    """``train_80k.json`` (a subset of webvid's train.json) is not read: its captions
    would come out twice. It is reported as skipped instead."""
    from vidray.io import storage
    from vidray.sources import get

    src = get("videochat2")
    loc = storage.location(str(root))
    assert "video/caption/webvid/train_80k.json" not in src.units(loc)
    assert src.skipped_units(loc) == ["video/caption/webvid/train_80k.json"]
