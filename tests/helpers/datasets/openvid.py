"""OpenVid-1M: ``data/train/OpenVid-1M.csv`` and ``OpenVidHD.csv`` + ``video_folder/``.

The CSV has the published header (column names with spaces), captions with commas
and quotes, and ``video`` cells that already end in ``.mp4``; the parts are unzipped
flat into ``video_folder/`` as the recipe does.

Layout source: formats.md's OpenVid-1M row; not re-checked against a primary file in
issue 9.
"""

from pathlib import Path

from tests.helpers.datasets import Expected, assert_row, write_csv, write_videos
from vidray.sources import SourceContext

HEADER = [
    "video",
    "caption",
    "aesthetic score",
    "motion score",
    "temporal consistency score",
    "camera motion",
    "frame",
    "fps",
    "seconds",
]
CELEB = "celebv_--Jiv5iYqT8_0"
PANDA = "Q8d_a3bCv1k_12_0to120"
CAPTION = 'A woman, smiling, says "hello" to the camera in a bright room.'


def row(video: str, caption: str) -> list:
    return [video, caption, 5.31, 1.02, 0.997, "static", 40, 10.0, 4.0]


def build(root: Path) -> Expected:
    write_videos(root / "video_folder", {f"{CELEB}.mp4": 4.0, f"{PANDA}.mp4": 3.0})
    write_csv(
        root / "data" / "train" / "OpenVid-1M.csv",
        HEADER,
        [
            row(f"{CELEB}.mp4", CAPTION),
            row(f"{PANDA}.mp4", "The camera pans over green hills under a cloudy sky."),
            # listed, but its part was never unzipped
            row("pexels_8815_missing.mp4", "A river flows between rocks."),
            # malformed: no caption
            row("mixkit_42.mp4", "  "),
        ],
    )
    write_csv(root / "data" / "train" / "OpenVidHD.csv", HEADER, [row(f"{CELEB}.mp4", CAPTION)])

    def check(by_id: dict[str, dict]) -> None:
        instruction = SourceContext().instruction(f"openvid:{CELEB}")
        assert_row(
            by_id[f"openvid:{CELEB}"],
            turns=[f"<image>\n{instruction}", CAPTION],
            query=instruction,
            video=f"{CELEB}.mp4",
            clip=(None, None),
        )

    return Expected(
        rows={f"openvid:{CELEB}", f"openvid:{PANDA}"},
        errors={
            "openvid:pexels_8815_missing": "missing_video",
            "openvid:data/train/OpenVid-1M.csv#3": "bad_annotation",
        },
        check=check,
    )
