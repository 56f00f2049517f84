"""Frame lists as qwen-vl-utils 0.0.14 reads them: its ``fetch_video`` passes its
factor (``image_patch_size * SPATIAL_MERGE_SIZE`` = 28) to ``fetch_image`` as the
*patch size*, so each listed frame is first sized by ``smart_resize`` with factor 56,
then the stack by factor 28. Frames sized by multiples of 28 (``--min-pixels``) can be
resized (420x252 becomes 448x224); ``--pixel-factor 56`` sizes them so it changes
nothing. qwen-vl-utils imports torch and torchvision, which this project does not
install, so its sizing code is copied here as published: ``qwen_vl_utils/
vision_process.py`` of the PyPI wheel qwen-vl-utils 0.0.14 (``round_by_factor``,
``ceil_by_factor``, ``floor_by_factor`` and ``smart_resize`` statement for statement,
reformatted, ``smart_resize`` without its type hints and docstring; of ``fetch_image``
(a PIL image given) and ``fetch_video``'s frame-list branch, the lines that pick sizes,
its thread pool, ``torch.stack`` and ``transforms.functional.resize`` left out)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from vidray import output as vout
from vidray import synth
from vidray.config import ConvertOptions
from vidray.media.sampling import PixelBudget
from vidray.pipeline import convert

# --- qwen-vl-utils 0.0.14, qwen_vl_utils/vision_process.py (constants, verbatim) ---
MAX_RATIO = 200
SPATIAL_MERGE_SIZE = 2
IMAGE_MIN_TOKEN_NUM = 4
IMAGE_MAX_TOKEN_NUM = 16384
VIDEO_MIN_TOKEN_NUM = 128
VIDEO_MAX_TOKEN_NUM = 768
FRAME_FACTOR = 2
MODEL_SEQ_LEN = 128000  # int(float(os.environ.get('MODEL_SEQ_LEN', 128000)))


def round_by_factor(number: int, factor: int) -> int:
    """Returns the closest integer to 'number' that is divisible by 'factor'."""
    return round(number / factor) * factor


def ceil_by_factor(number: int, factor: int) -> int:
    """Returns the smallest integer greater than or equal to 'number' that is divisible by 'factor'."""  # noqa: E501
    return math.ceil(number / factor) * factor


def floor_by_factor(number: int, factor: int) -> int:
    """Returns the largest integer less than or equal to 'number' that is divisible by 'factor'."""
    return math.floor(number / factor) * factor


def smart_resize(height, width, factor, min_pixels=None, max_pixels=None):
    max_pixels = max_pixels if max_pixels is not None else (IMAGE_MAX_TOKEN_NUM * factor**2)
    min_pixels = min_pixels if min_pixels is not None else (IMAGE_MIN_TOKEN_NUM * factor**2)
    assert max_pixels >= min_pixels, (
        "The max_pixels of image must be greater than or equal to min_pixels."
    )
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {MAX_RATIO}, got {max(height, width) / min(height, width)}"  # noqa: E501
        )
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


def fetch_image(ele: dict[str, Any], image_patch_size: int = 14) -> Image.Image:
    """``fetch_image`` for a PIL image (its ``to_rgb`` is ``convert("RGB")`` here)."""
    image = ele["image"]
    patch_factor = int(image_patch_size * SPATIAL_MERGE_SIZE)
    image = image.convert("RGB")
    if "resized_height" in ele and "resized_width" in ele:
        resized_height, resized_width = smart_resize(
            ele["resized_height"], ele["resized_width"], factor=patch_factor
        )
    else:
        width, height = image.size
        min_pixels = ele.get("min_pixels", IMAGE_MIN_TOKEN_NUM * patch_factor**2)
        max_pixels = ele.get("max_pixels", IMAGE_MAX_TOKEN_NUM * patch_factor**2)
        resized_height, resized_width = smart_resize(
            height, width, factor=patch_factor, min_pixels=min_pixels, max_pixels=max_pixels
        )
    image = image.resize((resized_width, resized_height))
    return image


def fetch_video_frame_list(ele: dict[str, Any], image_patch_size: int = 14) -> tuple[int, int, int]:
    """``fetch_video`` on a list of frames: (frames, height, width) of what it returns."""
    image_factor = image_patch_size * SPATIAL_MERGE_SIZE
    VIDEO_FRAME_MIN_PIXELS = VIDEO_MIN_TOKEN_NUM * image_factor * image_factor
    VIDEO_FRAME_MAX_PIXELS = VIDEO_MAX_TOKEN_NUM * image_factor * image_factor
    process_info = ele.copy()
    process_info.pop("type", None)
    process_info.pop("video", None)
    image_list = [
        fetch_image({"image": video_element, **process_info}, image_factor)
        for video_element in ele["video"]
    ]
    nframes = ceil_by_factor(len(image_list), FRAME_FACTOR)
    if len(image_list) < nframes:
        image_list.extend([image_list[-1]] * (nframes - len(image_list)))
    # video = torch.stack(...): every frame has the first's size (it fails otherwise)
    assert len({im.size for im in image_list}) == 1
    width, height = image_list[0].size
    min_pixels = ele.get("min_pixels", VIDEO_FRAME_MIN_PIXELS)
    total_pixels = ele.get("total_pixels", MODEL_SEQ_LEN * image_factor * image_factor * 0.9)
    max_pixels = max(
        min(VIDEO_FRAME_MAX_PIXELS, total_pixels / nframes * FRAME_FACTOR),
        int(min_pixels * 1.05),
    )
    max_pixels_supposed = ele.get("max_pixels", max_pixels)
    max_pixels = min(max_pixels_supposed, max_pixels)
    if "resized_height" in ele and "resized_width" in ele:
        resized_height, resized_width = smart_resize(
            ele["resized_height"], ele["resized_width"], factor=image_factor
        )
    else:
        resized_height, resized_width = smart_resize(
            height, width, factor=image_factor, min_pixels=min_pixels, max_pixels=max_pixels
        )
    return nframes, resized_height, resized_width


# --- end of the copy ---

#: 420x252: both sides multiples of 28, 105,840 pixels, inside the video budget.
SPEC = synth.VideoSpec(num_frames=20, fps=10, width=420, height=252)


@pytest.fixture(scope="module")
def wide_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wide")
    synth.write_webvid(root, shards=1, per_shard=2, spec=SPEC)
    return root


def frames_of(out: Path) -> list[list[Image.Image]]:
    rows = vout.read_output(str(out)).to_pylist()
    return [[Image.open(io.BytesIO(f)) for f in r["frames"]] for r in rows]


def test_the_copy_reproduces_qwen_vl_utils_0_0_14_on_28_multiples():
    """The report this module answers: 420x252 frames come back 448x224 (252/56 = 4.5
    rounds to 4, 420/56 = 7.5 to 8, in ``fetch_image`` at factor 56)."""
    frames = [Image.new("RGB", (420, 252)) for _ in range(8)]
    assert fetch_video_frame_list({"video": frames}) == (8, 224, 448)
    assert smart_resize(252, 420, factor=28, min_pixels=100352, max_pixels=602112) == (252, 420)


@pytest.mark.parametrize(
    ("factor", "unchanged"), [(28, False), (56, True)], ids=["factor-28", "factor-56"]
)
def test_frame_lists_qwen_vl_utils_leaves_as_they_are(
    ray_head, wide_dir, tmp_path, factor, unchanged
):
    """The README's Qwen2-VL sizing (``--min-pixels 100352 --max-pixels 602112
    --frame-multiple 2``) on 420x252 video: with ``--pixel-factor 56`` the frame lists
    come back from ``fetch_video`` at vidray's size and count, with or without the
    budget given to it too; at the default factor 28 they are resized."""
    from vidray.media.sampling import SamplingPolicy

    out = tmp_path / "out"
    budget = PixelBudget(min_pixels=100352, max_pixels=602112, factor=factor)
    sampling = SamplingPolicy(mode="uniform", num_frames=8, frame_multiple=2)
    opts = ConvertOptions.of(
        source="webvid", input=str(wide_dir), output=str(out), size=budget,
        sampling=sampling, progress=False,
    )  # fmt: skip
    assert convert(opts).rows == 2
    for frames in frames_of(out):
        w, h = frames[0].size
        assert w % factor == 0 and h % factor == 0 and 100352 <= w * h <= 602112
        for ele in (
            {"video": frames},
            {"video": frames, "min_pixels": 100352, "max_pixels": 602112},
        ):
            got = fetch_video_frame_list(ele)
            assert (got == (len(frames), h, w)) is unchanged, (got, (len(frames), h, w))


def test_pixel_factor_option(tmp_path, capsys):
    """``--pixel-factor`` reaches the budget, and only goes with one."""
    from vidray.cli import build_parser, main, options_from_args

    base = ["convert", "webvid", str(tmp_path / "in"), str(tmp_path / "out")]
    args = build_parser().parse_args([*base, "--min-pixels", "100352", "--pixel-factor", "56"])
    assert options_from_args(args).frames.size == PixelBudget(100352, 602112, factor=56)
    assert main([*base, "--pixel-factor", "56"]) == 2
    assert "--pixel-factor applies to --min-pixels/--max-pixels only" in capsys.readouterr().err
