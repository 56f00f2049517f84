"""The sampling arithmetic on its own: no video involved."""

import pytest

from vidray.media import sampling
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


def test_select_frames_uniform_over_cfr_video_gives_distinct_frames():
    fps, n = 25, 250
    times = [i / fps for i in range(n)]
    targets = sampling.uniform_targets(0.0, n / fps, 8)
    chosen = sampling.select_frames(times, targets)
    assert len(chosen) == 8
    assert chosen == [15, 46, 78, 109, 140, 171, 203, 234]


def test_fewer_frames_than_asked_yields_each_frame_once():
    times = [0.0, 0.5, 1.0]  # 3 frames at 2 fps, 1.5 s
    chosen = sampling.select_frames(times, sampling.uniform_targets(0.0, 1.5, 8))
    assert chosen == [0, 1, 2]


def test_variable_frame_rate():
    times = [0.0, 0.04, 0.08, 1.0, 1.04, 3.0]
    assert sampling.select_frames(times, [0.05, 0.5, 1.02, 2.9, 3.5]) == [1, 2, 3, 4, 5]


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
