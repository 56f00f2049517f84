"""VideoChat2-IT: ``video/<task>/<subset>/train.json`` (``{video, QA: [{i, q, a}],
start?, end?}``), the paths the OpenGVLab/VideoChat2-IT data card's ``configs`` list;
image sets beside them under ``image/``; ``video/caption/webvid/train_80k.json``, a
subset of the webvid captions that VideoChat2's own config names but the card does not
(reading it would repeat captions); and the videos (not shipped with the annotations)
gathered under ``videos/``; TGIF videos are real GIFs."""

from pathlib import Path

from tests.helpers.datasets import Expected, assert_row, write_bytes, write_json, write_videos
from vidray import synth

TGIF = "tumblr_nk172bbdPI1u1lr18o1_250.gif"
TGIF_I = "Watch the GIF and answer the question with a single word or phrase."
CAPTION_I = "Describe the following video concisely."
CHAT_I = "Carefully watch the video and pay attention to the cause and sequence of events."


def gif(seconds: float = 3.0, fps: int = 10, seed: int = 0) -> bytes:
    """A real animated GIF (PyAV's gif encoder) with the frame index drawn in."""
    spec = synth.VideoSpec(num_frames=round(seconds * fps), fps=fps, width=96, height=64, seed=seed)
    return synth.encode_video(spec, container="gif", codec="gif", pix_fmt="rgb8")


def build(root: Path) -> Expected:
    write_bytes(root / "videos" / TGIF, gif())
    write_videos(
        root,
        {
            "videos/000001_000050/1066664.mp4": 3.0,
            "videos/1019435.mp4": 2.0,
            "videos/split_videos/GLd3aX16zBg.mp4": 4.0,
        },
        first_seed=1,
    )
    write_json(
        root / "video/vqa/tgif_frame_qa/train.json",
        [
            {"video": TGIF, "QA": [{"i": TGIF_I, "q": "What is the cat doing?", "a": "jumping"}]},
            # same GIF: decoded once with #0; the media token is the dataset's own
            {"video": TGIF, "QA": [{"i": TGIF_I, "q": "<video>\nWhat color is it?", "a": "white"}]},
            {
                "video": "tumblr_not_there.gif",
                "QA": [{"i": TGIF_I, "q": "Who runs?", "a": "a dog"}],
            },
            # malformed: no answer
            {"video": TGIF, "QA": [{"i": TGIF_I, "q": "How many cats?"}]},
        ],
    )
    write_json(
        root / "video/caption/webvid/train.json",
        [
            {
                "video": "000001_000050/1066664.mp4",
                "QA": [{"i": CAPTION_I, "q": "", "a": "Aerial view of a river in autumn."}],
            }
        ],
    )
    # a subset of the file above (VideoChat2's config names it; the card does not)
    write_json(
        root / "video/caption/webvid/train_80k.json",
        [
            {
                "video": "000001_000050/1066664.mp4",
                "QA": [{"i": CAPTION_I, "q": "", "a": "Aerial view of a river in autumn."}],
            }
        ],
    )
    write_json(
        root / "video/conversation/videochat1/train.json",
        [
            {
                "video": "1019435.mp4",
                "QA": [
                    {"i": CHAT_I, "q": "What is the man doing?", "a": "He is surfing."},
                    {"i": "", "q": "Does he fall?", "a": "Yes, at the end."},
                ],
            }
        ],
    )
    write_json(
        root / "video/caption/youcook2/train.json",
        [
            {
                "video": "split_videos/GLd3aX16zBg.mp4",
                "QA": [{"i": CAPTION_I, "q": "", "a": "Spread butter on the bread."}],
                "start": 1.0,
                "end": 3.0,
            },
            # the span runs past the 4 s video
            {
                "video": "split_videos/GLd3aX16zBg.mp4",
                "QA": [{"i": CAPTION_I, "q": "", "a": "Toast the bread."}],
                "start": 2.0,
                "end": 9.0,
            },
            # start without end
            {
                "video": "split_videos/GLd3aX16zBg.mp4",
                "QA": [{"i": CAPTION_I, "q": "", "a": "Cut the bread."}],
                "start": 2.0,
            },
        ],
    )
    # an image set: not video, never read
    write_json(
        root / "image/caption/coco/train.json",
        [
            {
                "image": "train2014/COCO_train2014_000000000009.jpg",
                "QA": [{"i": "", "q": "", "a": "x"}],
            }
        ],
    )

    def check(by_id: dict[str, dict]) -> None:
        tgif = "videochat2:video/vqa/tgif_frame_qa/train.json"
        r = by_id[f"{tgif}#0:0"]
        assert_row(
            r,
            turns=[f"<image>\n{TGIF_I}\nWhat is the cat doing?", "jumping"],
            query="What is the cat doing?",
            video=TGIF,
            video_duration=3.0,
        )
        r1 = by_id[f"{tgif}#1:0"]
        assert r1["conversations"][0]["value"] == f"<image>\n{TGIF_I}\nWhat color is it?"
        assert r1["frames"] == r["frames"]
        r = by_id["videochat2:video/caption/webvid/train.json#0:0"]
        assert_row(
            r, turns=[f"<image>\n{CAPTION_I}", "Aerial view of a river in autumn."], query=CAPTION_I
        )
        r = by_id["videochat2:video/caption/youcook2/train.json#0:0"]
        assert (r["clip_start"], r["clip_end"]) == (1.0, 3.0)
        r = by_id["videochat2:video/conversation/videochat1/train.json#0:1"]
        assert_row(r, turns=[f"<image>\n{CHAT_I}\nDoes he fall?", "Yes, at the end."])

    return Expected(
        rows={
            "videochat2:video/vqa/tgif_frame_qa/train.json#0:0",
            "videochat2:video/vqa/tgif_frame_qa/train.json#1:0",
            "videochat2:video/caption/webvid/train.json#0:0",
            "videochat2:video/conversation/videochat1/train.json#0:0",
            "videochat2:video/conversation/videochat1/train.json#0:1",
            "videochat2:video/caption/youcook2/train.json#0:0",
        },
        errors={
            "videochat2:video/vqa/tgif_frame_qa/train.json#2:0": "missing_video",
            "videochat2:video/vqa/tgif_frame_qa/train.json#3": "bad_annotation",
            "videochat2:video/caption/youcook2/train.json#1:0": "bad_span",
            "videochat2:video/caption/youcook2/train.json#2": "bad_annotation",
        },
        check=check,
        skipped=["video/caption/webvid/train_80k.json"],
    )
