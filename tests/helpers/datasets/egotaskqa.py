"""EgoTaskQA: ``qa/{direct,indirect}/{train,val,test}_qas.json`` + LEMMA frame folders.

The question files are built as the release's ``baselines/preprocess/split.py`` builds
them: ``direct/`` and ``indirect/`` are two splittings of one pool of tagged questions
with global ``question_id``s; ``indirect/train`` takes every direct-reference question,
including one that ``direct/test`` holds out. ``video_id`` is an int, ``interval`` is
``<video>|P<n>|<start>|<end>`` in frames at 24 fps. The videos are LEMMA frame folders
``videos/<video>/fpv<n>/img_%05d.jpg`` as ``baselines/dataset/dataset.py`` reads them
(``img_00001.jpg`` is frame 0), one folder per camera. (?) The mp4 layouts of the
recipe (``qa_videos/<interval>.mp4``, ``qa_videos/<video>.mp4``) are unconfirmed; the
tests build them with ``write_mp4_layouts``.
"""

from pathlib import Path

from tests.helpers.datasets import Expected, assert_row, write_json, write_videos
from tests.helpers.datasets.sharegptvideo import write_frames

VIDEO = "1_1"
FPS = 24
#: frames per camera: the cameras differ in length, so a row tells which it read
FRAMES = {1: 80, 2: 60}


def qa(qid: int, question: str, answer: str, interval: str, reference: str = "direct") -> dict:
    return {
        "question_id": qid,
        "question": question,
        "answer": answer,
        "interval": interval,
        "type": ["descriptive"],
        "category": ["object"],
        "reference": reference,
        "video_id": 0,  # an index into vid_intervals.json, not a file name
    }


#: The tagged pool, by global question_id.
POOL = {
    0: qa(0, "What is the person holding?", "knife", f"{VIDEO}|P1|24|72"),
    1: qa(1, "Is the fridge open after the action?", "yes", f"{VIDEO}|P1|24|72"),
    2: qa(2, "What did the person cut?", "tomato", f"{VIDEO}|P2|0|48"),
    3: qa(3, "Why did the person open the fridge?", "get milk", f"{VIDEO}|P1|24|72", "indirect"),
    4: qa(4, "What will the person do after cutting?", "wash", f"{VIDEO}|P2|0|48", "indirect"),
    5: qa(5, "What is open?", "drawer", "9_9|P1|0|20"),  # no such video
    6: qa(6, "Is the door closed?", "no", f"{VIDEO}|P1|0"),  # malformed: no end frame
    7: qa(7, "Where is the cup?", "table", f"{VIDEO}|P1|40|200"),  # past the 80 frames
}
#: split.py's two splittings of POOL (shuffled, so families overlap arbitrarily).
SPLIT_FILES = {
    "direct/train": [0, 1, 3, 5, 6, 7],
    "direct/val": [],
    "direct/test": [2, 4],
    # every direct-reference question, 2 included: direct/test holds it out
    "indirect/train": [0, 1, 2, 5, 6, 7],
    "indirect/val": [4],
    "indirect/test": [3],
}


def build(root: Path) -> Expected:
    for camera, count in FRAMES.items():
        write_frames(root / "videos" / VIDEO / f"fpv{camera}", count, camera, "img_{:05d}.jpg")
    for name, qids in SPLIT_FILES.items():
        records = [POOL[q] for q in qids]
        if name == "direct/train":
            records.append(POOL[0])  # a question repeated in its file
        write_json(root / "qa" / f"{name}_qas.json", records)

    def check(by_id: dict[str, dict]) -> None:
        from vidray import synth

        r = by_id["egotaskqa:direct/train:0"]
        assert_row(
            r,
            turns=["<image>\nWhat is the person holding?", "knife"],
            query="What is the person holding?",
            video=f"{VIDEO}/fpv1",
        )
        # frames 24-72 at 24 fps; 4 targets at the segment centres
        assert (r["clip_start"], r["clip_end"]) == (1.0, 3.0)
        assert [synth.read_index_jpeg(f) for f in r["frames"]] == [30, 42, 54, 66]
        assert r["frame_timestamps"] == [i / FPS for i in (30, 42, 54, 66)]
        assert r["video_fps"] == FPS and r["video_duration"] == FRAMES[1] / FPS
        # one folder read once for the three questions on the span
        assert r["frames"] == by_id["egotaskqa:direct/train:3"]["frames"]
        assert by_id["egotaskqa:direct/train:3"]["conversations"][1]["value"] == "get milk"

    return Expected(
        rows={"egotaskqa:direct/train:0", "egotaskqa:direct/train:1", "egotaskqa:direct/train:3"},
        errors={
            "egotaskqa:direct/train:5": "missing_video",
            "egotaskqa:qa/direct/train_qas.json#4": "bad_annotation",
            "egotaskqa:direct/train:7": "bad_span",
            "egotaskqa:qa/direct/train_qas.json#6": "bad_annotation",
        },
        check=check,
    )


def write_mp4_layouts(root: Path) -> Path:
    """(?) The recipe's mp4 layouts under ``root/qa_videos``: a clip cut to an interval
    (``|`` in its name) and a full video (5 s at 10 fps) for the others."""
    videos = root / "qa_videos"
    write_videos(videos, {f"{VIDEO}|P1|24|72.mp4": 2.0, f"{VIDEO}.mp4": 5.0})
    return videos
