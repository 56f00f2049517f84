"""LLaVA-Video-178K: subset folders holding ``*_cap_processed.json``,
``*_oe_*qa_processed.json`` and ``*_mc_*qa_processed.json`` next to the extracted
``<subset>_videos_N.tar.gz`` (``video`` is relative to the subset folder), and
``llava_hound/sharegptvideo_qa_255k_processed.json`` over ShareGPTVideo's ``train_300k``
frame folders: the files and globs of the lmms-lab/LLaVA-Video-178K dataset card's
``configs`` (and its tree listings, which show the parquet copy of a caption file).
(?) The hound file's ``video`` form is not confirmed: here the path LLaVA-NeXT-based
loaders extract ``train_300k`` to, ``shareVideoGPTV/frames/all_frames/<id>``."""

import io
import tarfile
from pathlib import Path

from tests.helpers.datasets import (
    Expected,
    assert_row,
    turn_values,
    write_bytes,
    write_json,
    write_parquet,
    write_video,
)
from tests.helpers.datasets.sharegptvideo import write_frames

ACADEMIC = "0_30_s_academic_v0_1"
YOUTUBE = "30_60_s_youtube_v0_1"
CHARADES = "academic_source/Charades/RW587.mp4"
NEXTQA = "academic_source/NextQA/4010069381.mp4"
YTB = "liwei_youtube_videos/videos/youtube_video_2024/ytb_7nRmsEw7nsE.mp4"
HOUND = "llava_hound"
HOUND_FILE = f"{HOUND}/sharegptvideo_qa_255k_processed.json"
FRAMES = "shareVideoGPTV/frames/all_frames"
HOUND_VID = "v_3l7quTy4c2s"
PARQUET_COPY = f"{ACADEMIC}/{ACADEMIC}_cap-00000-of-00001.parquet"

MC_QUESTION = (
    "Why did the boy pick up the ball?\nA. to throw it\nB. to give it to the dog\n"
    "C. to clean it\nD. to hide it\n"
    "Answer with the option's letter from the given choices directly."
)


def turns(*pairs: tuple[str, str]) -> list[dict]:
    out = []
    for k, (q, a) in enumerate(pairs):
        out += [
            {"from": "human", "value": ("<image>\n" if k == 0 else "") + q},
            {"from": "gpt", "value": a},
        ]
    return out


def record(rid: str | None, source: str, video: str, *pairs: tuple[str, str]) -> dict:
    r = {"id": rid, "conversations": turns(*pairs), "data_source": source, "video": video}
    if rid is None:
        del r["id"]  # some records have no id at all
    return r


def empty_tar_gz() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz"):
        pass
    return buf.getvalue()


def build(root: Path) -> Expected:
    a, y = root / ACADEMIC, root / YOUTUBE
    write_video(a / CHARADES, seconds=4.0)
    write_video(a / NEXTQA, seconds=3.0, seed=1)
    write_video(y / YTB, seconds=5.0, seed=2)
    # the archives stay next to what was extracted from them; never read
    write_bytes(a / f"{ACADEMIC}_videos_1.tar.gz", empty_tar_gz())
    describe = "Please describe the video in detail."
    caption = "A man walks into the room holding a cup, then sits down."
    cap = [
        record("RW587", ACADEMIC, CHARADES, (describe, caption)),
        # no id: kept (the recipe dropped it), keyed by its index
        record(None, ACADEMIC, NEXTQA, (describe, "A boy plays with a ball in a garden.")),
    ]
    write_json(a / f"{ACADEMIC}_cap_processed.json", cap)
    # the hub's parquet copy of the captions: not an annotation file of this source
    write_parquet(root / PARQUET_COPY, [{"id": "RW587", "n": 1}])
    write_json(
        a / "0_30_s_academic_oe_v0_1_qa_processed.json",
        [
            record(
                "RW587",
                ACADEMIC,
                CHARADES,
                ("What is the man holding?", "He is holding a cup."),
                ("Where does he sit?", "On a chair by the window."),
            ),
            # the same id (a video id) again in the same file
            record("RW587", ACADEMIC, CHARADES, ("What color is the cup?", "White.")),
            # gpt speaks first: malformed
            {
                "id": "RW587",
                "data_source": ACADEMIC,
                "video": CHARADES,
                "conversations": [
                    {"from": "gpt", "value": "Hello."},
                    {"from": "human", "value": "<image>\nHi?"},
                ],
            },
            record("NOVID", ACADEMIC, "academic_source/Charades/NOVID.mp4", ("Who?", "Nobody.")),
        ],
    )
    write_json(
        a / "0_30_s_academic_mc_v0_1_qa_processed.json",
        [record("4010069381", ACADEMIC, NEXTQA, (MC_QUESTION, "B."))],
    )
    write_json(
        y / f"{YOUTUBE}_cap_processed.json",
        [
            record("ytb_7nRmsEw7nsE", YOUTUBE, YTB, (describe, "A street at night.")),
            {"id": "ytb_x", "data_source": YOUTUBE, "video": YTB},  # no conversations
        ],
    )
    # LLaVA-Hound: frame folders (2 fps, 8 frames = 4 s), no mp4
    write_frames(root / HOUND / FRAMES / HOUND_VID, 8, seed=3)
    write_json(
        root / HOUND_FILE,
        [
            record(
                f"{HOUND_VID}_0", "llava_hound", f"{FRAMES}/{HOUND_VID}",
                ("What is the man holding?", "A guitar."),
            ),
            record("v_gone", "llava_hound", f"{FRAMES}/v_gone", ("Why?", "No frames.")),
        ],
    )  # fmt: skip
    write_json(
        y / "30_60_s_youtube_oe_v0_1_qa_processed.json",
        [record("ytb_7nRmsEw7nsE", YOUTUBE, YTB, ("What is lit up?", "The shop signs."))],
    )

    def check(by_id: dict[str, dict]) -> None:
        r = by_id["llava-video:0_30_s_academic_oe_v0_1_qa_processed#0:1"]
        assert_row(
            r,
            turns=["<image>\nWhere does he sit?", "On a chair by the window."],
            query="Where does he sit?",
            video=f"{ACADEMIC}/{CHARADES}",
        )
        assert r["clip_start"] is None and r["clip_end"] is None
        r = by_id["llava-video:0_30_s_academic_mc_v0_1_qa_processed#0:0"]
        assert turn_values(r) == ["<image>\n" + MC_QUESTION, "B."]
        assert r["query"] == MC_QUESTION
        r = by_id["llava-video:0_30_s_academic_v0_1_cap_processed#1:0"]
        assert_row(
            r,
            turns=["<image>\n" + describe, "A boy plays with a ball in a garden."],
            query=describe,
        )
        r = by_id["llava-video:sharegptvideo_qa_255k_processed#0:0"]
        assert r["video"] == f"{HOUND}/{FRAMES}/{HOUND_VID}"
        assert r["video_fps"] == 2.0 and r["video_duration"] == 4.0
        assert_row(r, turns=["<image>\nWhat is the man holding?", "A guitar."])
        r = by_id["llava-video:30_60_s_youtube_oe_v0_1_qa_processed#0:0"]
        assert r["video"] == f"{YOUTUBE}/{YTB}"
        assert r["conversations"][1]["value"] == "The shop signs."

    return Expected(
        rows={
            "llava-video:0_30_s_academic_v0_1_cap_processed#0:0",
            "llava-video:0_30_s_academic_v0_1_cap_processed#1:0",
            "llava-video:0_30_s_academic_oe_v0_1_qa_processed#0:0",
            "llava-video:0_30_s_academic_oe_v0_1_qa_processed#0:1",
            "llava-video:0_30_s_academic_oe_v0_1_qa_processed#1:0",
            "llava-video:0_30_s_academic_mc_v0_1_qa_processed#0:0",
            "llava-video:30_60_s_youtube_v0_1_cap_processed#0:0",
            "llava-video:30_60_s_youtube_oe_v0_1_qa_processed#0:0",
            "llava-video:sharegptvideo_qa_255k_processed#0:0",
        },
        errors={
            f"llava-video:{ACADEMIC}/0_30_s_academic_oe_v0_1_qa_processed.json#2": (
                "bad_annotation"
            ),
            "llava-video:0_30_s_academic_oe_v0_1_qa_processed#3:0": "missing_video",
            f"llava-video:{YOUTUBE}/{YOUTUBE}_cap_processed.json#1": "bad_annotation",
            "llava-video:sharegptvideo_qa_255k_processed#1:0": "missing_video",
        },
        check=check,
        skipped=[PARQUET_COPY],
    )
