"""ShareGPTVideo: ``video_instruction/train/{pretrain,qa,sft}/*.jsonl`` + folders of
JPEG frames at 2 fps in ``train_300k/`` and ``train_600k/``: the layout of the
ShareGPTVideo/train_video_and_instruction hub repository (the jsonl paths and the
``train_{300,600}k/chunk_N.tar.gz`` URLs of LLaVA-Hound-DPO's ``setup/setup_train_data.sh``
and ``setup_pretrain_data.sh``). Those scripts extract every chunk into one flat
``video_data/train/<id>/`` instead: ``flatten`` rebuilds a fixture that way.

Frames are real JPEGs named as published (``c01_0001.jpeg``, ...), each drawing its own
index so a check can tell which frame was chosen; the frame roots also hold their
``chunk_N.tar.gz`` archives. ``<video>`` sits before, after or inside the question;
one QA record is multi-turn; the SFT file repeats a QA record with its id; image
instruction files sit beside the video ones.
"""

import io
from pathlib import Path

from PIL import Image

from tests.helpers.datasets import Expected, assert_row, write_bytes, write_jsonl
from vidray import synth

ROOT = "video_instruction/train"
A = "v_3l7quTy4c2s"  # train_300k, 8 frames (4 s)
B = "--v7Ek2eJ1Q_11"  # train_600k, 6 frames (3 s)
EMPTY = "v_0aXbC5Yz_w8"  # a folder whose frames were not extracted
FPS = 2.0


def write_frames(folder: Path, count: int, seed: int, name: str = "c01_{:04d}.jpeg") -> None:
    """``count`` JPEGs drawing their own index, named ``name.format(index + 1)``."""
    spec = synth.VideoSpec(num_frames=count, width=160, height=96, seed=seed)
    for i in range(count):
        buf = io.BytesIO()
        Image.fromarray(synth.frame_image(i, spec)).save(buf, format="JPEG", quality=95)
        write_bytes(folder / name.format(i + 1), buf.getvalue())


def flatten(root: Path, videos: Path) -> None:
    """Move every frame folder of ``root``'s chunked roots into one flat ``videos``, as
    ``tar -xzf chunk_N.tar.gz -C $TRAIN_VIDEO_DIR`` does for both roots."""
    videos.mkdir(parents=True, exist_ok=True)
    for chunked in ("train_300k", "train_600k"):
        for folder in sorted((root / chunked).iterdir()):
            if folder.is_dir():
                folder.rename(videos / folder.name)
        for archive in (root / chunked).iterdir():
            archive.unlink()
        (root / chunked).rmdir()


def record(rid: str, video: str, *turns: str) -> dict:
    roles = ("human", "gpt") * len(turns)
    return {
        "id": rid,
        "video": video,
        "conversations": [{"from": f, "value": v} for f, v in zip(roles, turns, strict=False)],
    }


QA_0 = record(f"{A}_0", A, "<video>\nWhat is the man holding?", "He is holding a guitar.")


def build(root: Path) -> Expected:
    write_frames(root / "train_300k" / A, 8, seed=0)
    write_frames(root / "train_600k" / B, 6, seed=1)
    write_bytes(root / "train_600k" / EMPTY / "README.txt", b"extraction failed\n")
    for archive in ("train_300k/chunk_0.tar.gz", "train_600k/chunk_0.tar.gz"):
        write_bytes(root / archive, b"\x1f\x8b not extracted here")

    write_jsonl(
        root / ROOT / "pretrain" / "video_caption_pretrain.jsonl",
        [
            record(A, A, "<video>\nDescribe the video in detail.", "A man plays a guitar."),
            record(B, B, "Give a detailed caption of the video.\n<video>", "Waves hit a pier."),
            record("v_notThere01", "v_notThere01", "<video>\nDescribe it.", "Nothing."),
            # malformed: a question without its answer
            {
                **record("v_half", A, "<video>\nDescribe the video."),
                "conversations": [{"from": "human", "value": "<video>\nDescribe the video."}],
            },
            record(EMPTY, EMPTY, "<video>\nDescribe the video.", "A kitchen."),
        ],
    )
    write_jsonl(
        root / ROOT / "pretrain" / "image_caption_pretrain.jsonl",
        [{"id": "img_1", "image": "coco/1.jpg", "conversations": []}],
    )
    write_jsonl(
        root / ROOT / "qa" / "chatgpt_qa_900k.jsonl",
        [
            QA_0,
            # a second question on the same frames: read once for both
            record(f"{A}_1", A, "<video>\nWhere is the man?", "He sits on a porch."),
            # multi-turn: one row per pair in split mode
            record(
                f"{B}_0",
                B,
                "What does the <video> show?",
                "The sea.",
                "Is it <video> windy?",
                "Yes, the waves are high.",
            ),
        ],
    )
    write_jsonl(root / ROOT / "sft" / "video_240k_caption_15k.jsonl", [QA_0])
    write_jsonl(
        root / ROOT / "sft" / "image_instruction_600k.jsonl",
        [{"id": "img_2", "image": "coco/2.jpg", "conversations": []}],
    )

    def check(by_id: dict[str, dict]) -> None:
        r = by_id[f"sharegptvideo:video_caption_pretrain/{A}"]
        assert_row(
            r,
            turns=["<image>\nDescribe the video in detail.", "A man plays a guitar."],
            query="Describe the video in detail.",
            video=f"train_300k/{A}",
        )
        assert r["video_duration"] == 4.0 and r["video_fps"] == FPS
        assert (r["width"], r["height"]) == (53, 32)
        r = by_id[f"sharegptvideo:video_caption_pretrain/{B}"]
        assert r["conversations"][0]["value"] == "<image>\nGive a detailed caption of the video."
        assert r["video"] == f"train_600k/{B}"
        r0, r1 = (by_id[f"sharegptvideo:chatgpt_qa_900k/{B}_0#{k}"] for k in (0, 1))
        assert_row(r0, turns=["<image>\nWhat does the show?", "The sea."])
        assert_row(
            r1, turns=["<image>\nIs it windy?", "Yes, the waves are high."], query="Is it windy?"
        )
        qa0, qa1 = (by_id[f"sharegptvideo:chatgpt_qa_900k/{A}_{k}"] for k in (0, 1))
        assert qa0["frames"] == qa1["frames"]
        assert qa0["conversations"][1]["value"] == "He is holding a guitar."
        for r in by_id.values():
            # each frame is the image of index 2 * its timestamp
            shown = [synth.read_index_jpeg(f) for f in r["frames"]]
            assert shown == [round(t * FPS) for t in r["frame_timestamps"]], r["id"]

    return Expected(
        rows={
            f"sharegptvideo:video_caption_pretrain/{A}",
            f"sharegptvideo:video_caption_pretrain/{B}",
            f"sharegptvideo:chatgpt_qa_900k/{A}_0",
            f"sharegptvideo:chatgpt_qa_900k/{A}_1",
            f"sharegptvideo:chatgpt_qa_900k/{B}_0#0",
            f"sharegptvideo:chatgpt_qa_900k/{B}_0#1",
        },
        errors={
            "sharegptvideo:video_caption_pretrain/v_notThere01": "missing_video",
            f"sharegptvideo:{ROOT}/pretrain/video_caption_pretrain.jsonl#3": "bad_annotation",
            f"sharegptvideo:video_caption_pretrain/{EMPTY}": "missing_video",
        },
        check=check,
        # image instruction data: not video, not read, and said so
        skipped=[
            f"{ROOT}/pretrain/image_caption_pretrain.jsonl",
            f"{ROOT}/sft/image_instruction_600k.jsonl",
        ],
    )
