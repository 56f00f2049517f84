"""The sampling arithmetic on its own: no video involved."""

from fractions import Fraction

import pytest

from tests.media import distinct_shown
from vidray.media import sampling
from vidray.media.decoder import DecodeFailure
from vidray.media.sampling import SamplingPolicy


def test_uniform_targets_are_segment_centres():
    assert sampling.uniform_targets(0.0, 8.0, 4) == [1.0, 3.0, 5.0, 7.0]
    assert sampling.uniform_targets(2.0, 3.0, 2) == [2.25, 2.75]


def test_uniform_targets_stay_inside_the_clip():
    ts = sampling.uniform_targets(10.0, 10.5, 64)
    assert len(ts) == 64 and all(10.0 < t < 10.5 for t in ts)
    assert ts == sorted(ts)


def test_fps_targets_and_cap():
    assert sampling.fps_targets(0.0, 4.0, 1.0, 64) == [0.5, 1.5, 2.5, 3.5]
    assert sampling.fps_targets(0.0, 100.0, 2.0, 8) == sampling.uniform_targets(0.0, 100.0, 8)
    # A clip shorter than one period still gets its middle frame.
    assert sampling.fps_targets(0.0, 0.2, 1.0, 8) == [0.1]


def test_frame_shown_at_is_last_frame_not_after_t():
    times = [0.0, 0.1, 0.2, 0.3]
    assert sampling.frame_shown_at(times, 0.0) == 0
    assert sampling.frame_shown_at(times, 0.1999) == 1
    assert sampling.frame_shown_at(times, 0.2) == 2
    assert sampling.frame_shown_at(times, 99.0) == 3
    # before the first frame: the first frame stands for it
    assert sampling.frame_shown_at([0.5, 0.6], 0.1) == 0


def test_the_frames_shown_uniformly_over_cfr_video_gives_distinct_frames():
    fps, n = 25, 250
    times = [i / fps for i in range(n)]
    targets = sampling.uniform_targets(0.0, n / fps, 8)
    chosen = distinct_shown(times, targets)
    assert len(chosen) == 8
    assert chosen == [15, 46, 78, 109, 140, 171, 203, 234]


def test_fewer_frames_than_asked_yields_each_frame_once():
    times = [0.0, 0.5, 1.0]  # 3 frames at 2 fps, 1.5 s
    chosen = distinct_shown(times, sampling.uniform_targets(0.0, 1.5, 8))
    assert chosen == [0, 1, 2]


def test_variable_frame_rate():
    times = [0.0, 0.04, 0.08, 1.0, 1.04, 3.0]
    assert distinct_shown(times, [0.05, 0.5, 1.02, 2.9, 3.5]) == [1, 2, 3, 4, 5]


def test_scaled_size_keeps_aspect_and_short_side():
    assert sampling.scaled_size(640, 360, 336) == (597, 336)
    assert sampling.scaled_size(360, 640, 336) == (336, 597)
    assert sampling.scaled_size(640, 360, None) == (640, 360)
    assert sampling.scaled_size(100, 100, 7) == (7, 7)


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "bogus"}, {"num_frames": 0}, {"mode": "fps"}, {"mode": "fps", "fps": -1.0}],
)
def test_policy_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        SamplingPolicy(**kwargs)


def test_empty_clip_is_rejected():
    with pytest.raises(ValueError):
        sampling.uniform_targets(3.0, 3.0, 4)


# -- trainer options: a pixel budget (qwen-vl-utils' smart_resize) and frame multiples

VIDEO = sampling.PixelBudget()  # qwen-vl-utils' VIDEO_MIN_PIXELS / VIDEO_MAX_PIXELS


@pytest.mark.parametrize(
    ("size", "budget", "want"),
    [
        # round(640/28) = round(22.86) = 23 -> 644, round(360/28) = 13 -> 364;
        # 644 * 364 = 234416 lies in [100352, 602112]: rounding alone.
        ((640, 360), VIDEO, (644, 364)),
        # 1932 x 1092 is above 602112: beta = sqrt(1920 * 1080 / 602112) = 1.8558,
        # floor(1920 / beta / 28) = 36 -> 1008, floor(1080 / beta / 28) = 20 -> 560.
        ((1920, 1080), VIDEO, (1008, 560)),
        # 168 x 84 is below 100352: beta = sqrt(100352 / 15360) = 2.5560,
        # ceil(160 * beta / 28) = 15 -> 420, ceil(96 * beta / 28) = 9 -> 252.
        ((160, 96), VIDEO, (420, 252)),
        # 350 / 28 = 12.5: Python's round (as round_by_factor) goes to 12 -> 336.
        ((350, 350), VIDEO, (336, 336)),
        # a tiny image, qwen-vl-utils' image defaults (MIN_PIXELS 4*28*28): each side
        # is held at 28, 784 < 3136, beta = sqrt(3136 / 100) = 5.6 -> 56 x 56.
        ((10, 10), sampling.PixelBudget(4 * 28 * 28, 16384 * 28 * 28), (56, 56)),
        # an aspect of exactly 200 is allowed: 5600 x 28 = 156800 pixels.
        ((5600, 28), VIDEO, (5600, 28)),
        # non-square pixels: the display width (720 * 16/15 = 768) is what is sized.
        ((Fraction(768), 576), VIDEO, (756, 588)),
    ],
)
def test_budget_size_follows_smart_resize(size, budget, want):
    got = sampling.budget_size(*size, budget)
    assert got == want
    w, h = got
    assert w % 28 == 0 and h % 28 == 0 and budget.min_pixels <= w * h <= budget.max_pixels
    # Qwen2-VL's processor applies the same rule again: the size must not move.
    assert sampling.budget_size(w, h, budget) == got
    assert sampling.scaled_size(*size, budget) == got


def test_budget_size_is_a_fixed_point_and_inside_the_budget():
    for w in range(28, 2000, 37):
        for h in (28, 90, 333, 720, 1080):
            if max(w, h) / min(w, h) > 200:
                continue
            ow, oh = sampling.budget_size(w, h, VIDEO)
            assert ow % 28 == 0 and oh % 28 == 0
            assert VIDEO.min_pixels <= ow * oh <= VIDEO.max_pixels
            assert sampling.budget_size(ow, oh, VIDEO) == (ow, oh)


@pytest.mark.parametrize(
    ("size", "budget", "message"),
    [
        # above an aspect of 200 smart_resize raises; so does vidray (an error row)
        ((201, 1), VIDEO, "aspect ratio 201.0"),
        ((28, 5601), VIDEO, "above 200"),
        # 5000x28: the short side is held at 28 and the long one floored to 728, so the
        # rule gives 20384 pixels for a budget of 3136: refused, never distorted
        ((5000, 28), sampling.PixelBudget(784, 3136), "gives 728x28"),
        # 45x30 in [3136, 3136]: the ceiling gives 84x56 = 4704
        ((45, 30), sampling.PixelBudget(3136, 3136), "gives 84x56"),
    ],
)
def test_budget_size_refuses_what_it_cannot_fit(size, budget, message):
    with pytest.raises(DecodeFailure) as e:
        sampling.budget_size(*size, budget)
    assert e.value.reason == "bad_size" and message in e.value.message


@pytest.mark.parametrize(
    "kwargs",
    [{"min_pixels": 0}, {"max_pixels": 783}, {"min_pixels": 5000, "max_pixels": 4000}],
)
def test_pixel_budget_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        sampling.PixelBudget(**kwargs)


@pytest.mark.parametrize(("asked", "count"), [(8, 8), (7, 8), (5, 4), (9, 8), (3, 4), (1, 2)])
def test_uniform_count_rounds_like_smart_nframes(asked, count):
    # round_by_factor(nframes, 2): Python's round, halves to the even quotient
    policy = SamplingPolicy(num_frames=asked, frame_multiple=2)
    targets = sampling.targets_for(policy, 0.0, 10.0)
    assert targets == sampling.uniform_targets(0.0, 10.0, count)


def test_fps_count_is_floored_to_the_multiple():
    # 3.4 s at 1 fps: 3 grid points, floored to 2 (smart_nframes floors in fps mode)
    assert sampling.fps_targets(0.0, 3.4, 1.0, 64, multiple=2) == [0.5, 1.5]
    assert sampling.fps_targets(0.0, 4.0, 1.0, 64, multiple=2) == [0.5, 1.5, 2.5, 3.5]
    # the cap is floored too: 63 -> 62 uniform targets
    assert sampling.fps_targets(0.0, 100.0, 2.0, 63, multiple=2) == sampling.uniform_targets(
        0.0, 100.0, 62
    )
    # fewer grid points than the multiple: kept (the last frame is repeated later)
    assert sampling.fps_targets(0.0, 0.2, 1.0, 8, multiple=2) == [0.1]
    assert sampling.fps_targets(0.0, 1.4, 1.0, 8, multiple=2) == [0.5]


def test_fps_grid_ends_before_the_clip_end():
    # 3.5 s at 1 fps: 0.5, 1.5, 2.5; 3.5 is the end, where nothing is shown
    assert sampling.fps_targets(0.0, 3.5, 1.0, 64) == [0.5, 1.5, 2.5]
    assert sampling.fps_targets(10.0, 13.5, 1.0, 64) == [10.5, 11.5, 12.5]


def test_regular_keeps_the_spacing_above_the_cap():
    ts = sampling.fps_targets(0.0, 100.0, 2.0, 8, regular=True)
    assert ts == [0.25 + k * 0.5 for k in range(8)]
    # a day at 30 fps is counted, not listed
    assert len(sampling.fps_targets(0.0, 86400.0, 30.0, 64, regular=True)) == 64
    policy = SamplingPolicy(mode="fps", fps=2.0, max_frames=8, regular=True)
    assert sampling.targets_for(policy, 0.0, 100.0) == ts


def test_delivered_dedups_then_repeats_the_last_frame():
    plain = SamplingPolicy()
    even = SamplingPolicy(frame_multiple=2)
    regular = SamplingPolicy(mode="fps", fps=4.0, regular=True)
    assert sampling.delivered(plain, [0, 0, 1, 2, 2]) == [0, 1, 2]
    assert sampling.delivered(even, [0, 0, 1, 2, 2]) == [0, 1, 2, 2]
    assert sampling.delivered(even, [0, 1, 2, 3]) == [0, 1, 2, 3]
    assert sampling.delivered(even, [5]) == [5, 5]  # a one-frame clip
    # regular: one frame per target, repeated where the video is slower than F
    assert sampling.delivered(regular, [0, 0, 1, 1, 2]) == [0, 0, 1, 1, 2]
    regular_even = SamplingPolicy(mode="fps", fps=4.0, regular=True, frame_multiple=2)
    assert sampling.delivered(regular_even, [0, 0, 1]) == [0, 0, 1, 1]
    assert sampling.delivered(even, []) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"regular": True},  # regular needs the fps mode
        {"frame_multiple": 0},
        {"mode": "fps", "fps": 1.0, "max_frames": 3, "frame_multiple": 4},
    ],
)
def test_policy_rejects_bad_trainer_values(kwargs):
    with pytest.raises(ValueError):
        SamplingPolicy(**kwargs)


def test_recorded_policy_names_trainer_options_only_when_set():
    # an OUTPUT written before these options existed keeps its fingerprint
    assert SamplingPolicy().recorded() == {
        "mode": "uniform", "num_frames": 8, "fps": None, "max_frames": 64
    }  # fmt: skip
    d = SamplingPolicy(mode="fps", fps=2.0, regular=True, frame_multiple=2).recorded()
    assert d["regular"] is True and d["frame_multiple"] == 2
