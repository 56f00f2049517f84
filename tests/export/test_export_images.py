"""``vidray export`` of image rows (image sets): LLaMA-Factory ``images``, LLaVA ``image``,
CLIP image-text pairs, each validated on read-back.

The OUTPUT is written through the sink as the pipeline writes it, with real JPEG images
of known colours, so a test can tell which image each exported file is.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.export.test_export import load, run
from tests.helpers.datasets import image_bytes, same_color
from tests.output import write_unit
from vidray import export
from vidray import output as vout
from vidray.io import storage

RED, GREEN, BLUE = (200, 40, 40), (40, 190, 60), (30, 60, 210)
#: The LLaMA-Factory ``mllm_demo`` entry form (data/dataset_info.json), literally.
MLLM_ENTRY_TAIL = {
    "formatting": "sharegpt",
    "columns": {"messages": "messages", "images": "images"},
    "tags": {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
    },
}


def image_row(
    rid: str,
    video: str,
    question: str,
    answer: str,
    colors: list[tuple[int, int, int]],
    label: int | None = None,
    classname: str | None = None,
    source: str = "caltech101",
) -> dict:
    """An image row as the stage writes it: images in ``frames``, no time axis."""
    return {
        "id": rid,
        "source": source,
        "video": video,
        "clip_start": None,
        "clip_end": None,
        "conversations": [
            {"from": "human", "value": "<image>\n" + question},
            {"from": "gpt", "value": answer},
        ],
        "query": question,
        "frames": [image_bytes(48, 32, c) for c in colors],
        "frame_timestamps": [],
        "width": 48,
        "height": 32,
        "video_duration": None,
        "video_fps": None,
        "label": label,
        "classname": classname,
    }


Q = "What is in this photo?"
CLASSES = [
    image_row("caltech101:Faces/image_0001.jpg", "Faces/image_0001.jpg", Q, "a photo of a face.",
              [RED], 1, "face"),
    image_row("caltech101:accordion/image_0001.jpg", "accordion/image_0001.jpg", Q,
              "a photo of a accordion.", [GREEN], 0, "accordion"),
]  # fmt: skip
CAPTIONS = [
    image_row(f"mscoco2014:val2014/x.jpg#{k}", "val2014/x.jpg", "Caption this image.", text,
              [BLUE], source="mscoco2014")
    for k, text in enumerate(["A blue sky.", "Sky."])
]  # fmt: skip
#: An M3IT video task: its frames are the row's images, in order.
FRAMES = image_row(
    "m3it:vqa/msrvtt-qa/train#0",
    "data/vqa/msrvtt-qa/train.jsonl#0",
    "Answer.\nWhat happens?",
    "A man cooks.",
    [RED, GREEN, BLUE],
    source="m3it",
)


def write(root: Path, rows: list[dict], source: str, options: dict | None = None) -> str:
    out = storage.location(str(root))
    result = write_unit(out, "u-00000", len(rows), rows, [])
    vout.commit(out, [result], {"source": source, "options": options or {}})
    return str(root)


def test_llamafactory_writes_images_with_one_token_each(tmp_path):
    out = write(tmp_path / "out", [*CAPTIONS, FRAMES], "mscoco2014")
    dest = tmp_path / "lf"
    assert run("llamafactory", out, str(dest)) == 0
    records = load(dest / "mscoco2014.json")
    assert [set(r) for r in records] == [{"messages", "images"}] * 3
    first, second, frames = records
    assert first["messages"] == [
        {"role": "user", "content": "<image>Caption this image."},
        {"role": "assistant", "content": "A blue sky."},
    ]
    # two captions of one image: one image file, shared
    assert first["images"] == second["images"] and len(first["images"]) == 1
    assert same_color((dest / first["images"][0]).read_bytes(), BLUE)
    assert frames["messages"][0]["content"] == "<image><image><image>Answer.\nWhat happens?"
    shown = [(dest / p).read_bytes() for p in frames["images"]]
    assert [same_color(b, c) for b, c in zip(shown, [RED, GREEN, BLUE], strict=True)] == [True] * 3
    assert load(dest / "dataset_info.json") == {
        "mscoco2014": {"file_name": "mscoco2014.json", **MLLM_ENTRY_TAIL}
    }


def test_llava_writes_image_a_path_or_a_list(tmp_path):
    out = write(tmp_path / "out", [CLASSES[0], FRAMES], "m3it")
    dest = tmp_path / "llava"
    assert run("llava", out, str(dest)) == 0
    single, several = load(dest / "m3it.json")
    assert set(single) == {"id", "conversations", "image", "query"}
    assert isinstance(single["image"], str) and (dest / single["image"]).is_file()
    assert single["conversations"][0]["value"] == "<image>\nWhat is in this photo?"
    assert isinstance(several["image"], list) and len(several["image"]) == 3
    assert several["conversations"][0]["value"] == "<image>\n" * 3 + "Answer.\nWhat happens?"
    assert several["query"] == "Answer.\nWhat happens?"


def test_clip_pairs_with_class_and_split_and_the_file_name_entry(tmp_path):
    out = write(tmp_path / "out", CLASSES, "caltech101", {"split": "val"})
    dest = tmp_path / "clip"
    assert run("clip", out, str(dest)) == 0
    records = load(dest / "caltech101.json")
    assert [list(r) for r in records] == [["image", "text", "label", "classname", "split"]] * 2
    face = records[0]
    assert (face["text"], face["label"], face["classname"], face["split"]) == (
        "a photo of a face.", 1, "face", "val"
    )  # fmt: skip
    assert same_color((dest / face["image"]).read_bytes(), RED)
    # seed 001: "CLIP/CN-CLIP/AdaCLIP: add the corresponding JSON filename only"
    assert load(dest / "dataset_info.json") == {"caltech101": {"file_name": "caltech101.json"}}
    # an export split names the record's split, and its file
    assert run("clip", out, str(tmp_path / "two"), "--split", "train=0.5,test=0.5") == 0
    written = {s: load(tmp_path / "two" / f"caltech101_{s}.json") for s in ("train", "test")}
    assert {r["split"] for s, rs in written.items() for r in rs} <= {"train", "test"}
    assert all(r["split"] == s for s, rs in written.items() for r in rs)
    assert sum(len(rs) for rs in written.values()) == 2


def test_clip_caption_rows_have_no_class_keys(tmp_path):
    out = write(tmp_path / "out", CAPTIONS, "mscoco2014")
    dest = tmp_path / "clip"
    assert run("clip", out, str(dest), "--absolute-paths") == 0
    records = load(dest / "mscoco2014.json")
    assert [r["text"] for r in records] == ["A blue sky.", "Sky."]
    assert all(set(r) == {"image", "text", "split"} and r["split"] == "train" for r in records)
    assert Path(records[0]["image"]).is_absolute() and Path(records[0]["image"]).is_file()


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([FRAMES], "clip takes one image per row, this one has 3"),
        (
            [{**CAPTIONS[0], "frame_timestamps": [0.5], "video_fps": 10.0}],
            "this is a video row",
        ),
    ],
)
def test_clip_refuses_what_is_no_image_text_pair(tmp_path, capsys, rows, words):
    out = write(tmp_path / "out", rows, "m3it")
    assert run("clip", out, str(tmp_path / "clip")) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "clip" / "m3it.json").exists()


def test_an_export_of_mixed_rows_is_refused(tmp_path, capsys):
    video = {**CAPTIONS[1], "id": "v", "video": "v.mp4", "frame_timestamps": [1.0]}
    out = write(tmp_path / "out", [CAPTIONS[0], video], "mscoco2014")
    assert run("llamafactory", out, str(tmp_path / "lf")) == 2
    assert "a video row among image rows" in capsys.readouterr().err


def test_frames_index_of_image_rows(tmp_path):
    out = write(tmp_path / "out", CAPTIONS, "mscoco2014")
    dest = tmp_path / "frames"
    assert run("frames", out, str(dest)) == 0
    (entry,) = export.iter_records(dest / "mscoco2014_index.jsonl")
    assert entry["num_frames"] == 1 and entry["frame_timestamps"] == []
    assert entry["ids"] == ["mscoco2014:val2014/x.jpg#0", "mscoco2014:val2014/x.jpg#1"]


def test_a_version_1_output_without_class_columns_still_exports(tmp_path):
    out = write(tmp_path / "out", CAPTIONS, "mscoco2014")
    data = Path(out) / vout.committed_data_files(storage.location(out))[0]
    pq.write_table(pq.read_table(data).drop_columns(["label", "classname"]), data)
    assert run("clip", out, str(tmp_path / "clip")) == 0
    assert len(load(tmp_path / "clip" / "mscoco2014.json")) == 2


def test_validators_catch_broken_image_records(tmp_path):
    dest = tmp_path
    (dest / "a.jpg").write_bytes(image_bytes())
    good_lf = {
        "messages": [
            {"role": "user", "content": "<image>Q?"},
            {"role": "assistant", "content": "A."},
        ],
        "images": ["a.jpg"],
    }
    export.LlamaFactoryFormat.validate(good_lf, dest)
    for broken, words in [
        ({**good_lf, "images": ["a.jpg", "a.jpg"]}, "1 <image> tokens for 2 images"),
        ({**good_lf, "images": ["gone.jpg"]}, "gone.jpg does not exist"),
        ({**good_lf, "videos": [["a.jpg"]]}, "'videos' or 'images'"),
    ]:
        with pytest.raises(export.ExportError, match=words):
            export.LlamaFactoryFormat.validate(broken, dest)
    good_llava = {
        "id": "x",
        "conversations": [
            {"from": "human", "value": "<image>\n<image>\nQ?"},
            {"from": "gpt", "value": "A."},
        ],
        "image": ["a.jpg", "a.jpg"],
        "query": "Q?",
    }
    export.LlavaFormat.validate(good_llava, dest)
    with pytest.raises(export.ExportError, match="2 <image> tokens for 1 images"):
        export.LlavaFormat.validate({**good_llava, "image": "a.jpg"}, dest)
    good_clip = {"image": "a.jpg", "text": "a photo of a cat.", "label": 3, "split": "train"}
    export.ClipFormat.validate(good_clip, dest)
    for broken, words in [
        ({**good_clip, "image": "gone.jpg"}, "does not exist"),
        ({**good_clip, "text": " "}, "'text' must be"),
        ({**good_clip, "label": "3"}, "'label' must be a whole number"),
        ({k: v for k, v in good_clip.items() if k != "split"}, "'split' must be"),
    ]:
        with pytest.raises(export.ExportError, match=words):
            export.ClipFormat.validate(broken, dest)
