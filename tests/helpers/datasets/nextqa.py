"""NExT-QA: ``OE/{train,validation,test}-*.parquet`` and ``MC/test-*.parquet`` (the
lmms-lab/NExTQA hub configurations), ``dataset/nextqa/{train,val}.csv`` (the original
release: columns as in doc-doc/NExT-QA's ``dataset/nextqa/val.csv``, answers as option
indices), and the videos as the original archive stores them,
``NExTVideo/<dir>/<video>.mp4`` (the ``<dir>`` of doc-doc/NExT-QA's
``dataset/nextqa/map_vid_vidorID.json``: ``"<video>": "<dir>/<video>"``)."""

from pathlib import Path

import pyarrow as pa

from tests.helpers.datasets import Expected, assert_row, write_csv, write_parquet, write_video

OE_SCHEMA = pa.schema(
    [
        ("video", pa.int64()),
        ("frame_count", pa.int64()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("qid", pa.int64()),
        ("type", pa.string()),
    ]
)
# the MC configuration: the video id as a string, the answer an index into a0..a4
MC_SCHEMA = pa.schema(
    [
        ("video", pa.string()),
        ("frame_count", pa.int64()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("question", pa.string()),
        ("answer", pa.int64()),
        ("qid", pa.int64()),
        ("type", pa.string()),
        *[(f"a{i}", pa.string()) for i in range(5)],
    ]
)
GIRL, DOG = 4010069381, 5333075105
MC_OPTIONS = ["sit down", "wave", "run away", "throw the ball", "cry"]


def oe(video: int, qid: int, question: str, answer: str, kind: str = "TN") -> dict:
    return {
        "video": video,
        "frame_count": 40,
        "width": 96,
        "height": 64,
        "question": question,
        "answer": answer,
        "qid": qid,
        "type": kind,
    }


def mc(video: str, qid: int, answer: int) -> dict:
    row = oe(0, qid, "what does the girl do after picking up the ball", "")
    row.update(video=video, answer=answer, type="TN")
    row.update({f"a{i}": o for i, o in enumerate(MC_OPTIONS)})
    return row


def build(root: Path) -> Expected:
    # map_vid_vidorID.json places each video in a numbered folder of the VidOR tree
    write_video(root / "NExTVideo" / "0101" / f"{GIRL}.mp4", seconds=4.0)
    write_video(root / "NExTVideo" / "1023" / f"{DOG}.mp4", seconds=3.0, seed=1)
    # the original MC release: every value a string, as csv holds them
    header = list(MC_SCHEMA.names)
    write_csv(
        root / "dataset" / "nextqa" / "train.csv",
        header,
        [list(mc(str(GIRL), 2, 1).values()), list(mc(str(DOG), 0, 7).values())],
    )
    write_csv(root / "dataset" / "nextqa" / "val.csv", header, [list(mc(str(DOG), 4, 0).values())])
    write_parquet(
        root / "OE" / "train-00000-of-00001.parquet",
        [
            oe(GIRL, 0, "what does the girl do after picking up the ball", "throw it"),
            # a second question on the same video (qid counts per video)
            oe(GIRL, 1, "how many people are there", "two", "DC"),
            oe(DOG, 0, "why is the dog running", "chase the ball", "CW"),
            oe(9999999999, 0, "where is this", "park", "DL"),  # no such video
            oe(DOG, 1, "what color is the dog", ""),  # empty answer
        ],
        OE_SCHEMA,
    )
    write_parquet(
        root / "OE" / "validation-00000-of-00001.parquet",
        [oe(DOG, 3, "where is the dog", "grass", "DL")],
        OE_SCHEMA,
    )
    write_parquet(
        root / "OE" / "test-00000-of-00001.parquet",
        [oe(GIRL, 0, "what does the girl do after picking up the ball", "throw it")],
        OE_SCHEMA,
    )
    write_parquet(
        root / "MC" / "test-00000-of-00001.parquet",
        [mc(str(GIRL), 0, 3), mc(str(GIRL), 1, 5)],  # 5: no such option
        MC_SCHEMA,
    )

    def check(by_id: dict[str, dict]) -> None:
        r = by_id[f"nextqa:OE/train:{GIRL}:0"]
        assert_row(
            r,
            turns=["<image>\nwhat does the girl do after picking up the ball", "throw it"],
            query="what does the girl do after picking up the ball",
            video=f"0101/{GIRL}.mp4",
            frames=by_id[f"nextqa:OE/train:{GIRL}:1"]["frames"],
        )
        assert by_id[f"nextqa:OE/train:{DOG}:0"]["conversations"][1]["value"] == "chase the ball"

    return Expected(
        rows={f"nextqa:OE/train:{GIRL}:0", f"nextqa:OE/train:{GIRL}:1", f"nextqa:OE/train:{DOG}:0"},
        errors={
            "nextqa:OE/train:9999999999:0": "missing_video",
            "nextqa:OE/train-00000-of-00001.parquet#4": "bad_annotation",
        },
        check=check,
    )
